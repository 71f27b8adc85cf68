/* Lazy, shared decode tables. The fast path is one acquire load; the first
 * decode of a segment takes the reader's table lock, reuses a table with
 * identical code lengths if one exists, or builds one. */
#include "../common/internal.h"

#include <stdlib.h>

static df11_huff_dtable *find_or_build(df11_reader *r, const uint8_t len[256])
{
    for (size_t i = 0; i < r->table_count; i++)
        if (memcmp(r->tables[i].code_lengths, len, 256) == 0) return r->tables[i].dtable;
    struct df11_shared_table *tables = realloc(r->tables, (r->table_count + 1) * sizeof *tables);
    if (!tables) return NULL;
    r->tables = tables;
    df11_huff_dtable *t = malloc(sizeof *t);
    if (!t) return NULL;
    df11_huff_build_dtable(len, t);
    memcpy(tables[r->table_count].code_lengths, len, 256);
    tables[r->table_count++].dtable = t;
    return t;
}

const df11_huff_dtable *df11_segment_dtable(df11_reader *r, uint32_t seg)
{
    df11_segment *s = &r->segments[seg];
    df11_huff_dtable *t = __atomic_load_n(&s->dtable, __ATOMIC_ACQUIRE);
    if (t) return t;
    pthread_mutex_lock(&r->table_lock);
    t = s->dtable;
    if (!t && (t = find_or_build(r, s->code_lengths)))
        __atomic_store_n(&s->dtable, t, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->table_lock);
    return t;
}
