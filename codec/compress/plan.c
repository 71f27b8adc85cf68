/* Cutting a safetensors file into segments (FORMAT.md 6): BF16 and F32
 * tensors become EXP segments, everything between them BYTES. */
#include "plan.h"

#include <stdlib.h>

typedef struct {
    uint64_t begin, end;
    uint8_t kind;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static uint8_t kind_of(const df11_st_tensor *t)
{
    uint64_t len = t->end - t->begin;
    if (!t->elements_ok || len == 0) return DF11_SEG_BYTES;
    if (strcmp(t->dtype, "BF16") == 0 && t->elements <= UINT64_MAX / 2 && len == 2 * t->elements)
        return DF11_SEG_EXP16;
    if (strcmp(t->dtype, "F32") == 0 && t->elements <= UINT64_MAX / 4 && len == 4 * t->elements)
        return DF11_SEG_EXP32;
    return DF11_SEG_BYTES;
}

static bool push(df11_plan *p, uint64_t begin, uint64_t end, uint8_t kind)
{
    if (begin == end) return true;
    if (kind == DF11_SEG_BYTES && p->count > 0 && p->segs[p->count - 1].kind == DF11_SEG_BYTES) {
        p->segs[p->count - 1].length += end - begin; /* merge runs of plain bytes */
        return true;
    }
    df11_plan_seg *s = realloc(p->segs, (p->count + 1) * sizeof *s);
    if (!s) return false;
    p->segs = s;
    s[p->count++] = (df11_plan_seg){begin, end - begin, kind};
    return true;
}

df11_status df11_plan_file(int fd, const char *path, uint64_t size, df11_plan *p, df11_error *err)
{
    memset(p, 0, sizeof *p);
    uint8_t lenbuf[8];
    if (size < 8) return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset 0: not a safetensors file: shorter than 8 bytes", path);
    df11_status s = df11_fd_read_exact(fd, path, lenbuf, 8, 0, err);
    if (s != DF11_OK) return s;
    uint64_t hlen = df11_rd64(lenbuf);
    if (hlen > DF11_ST_MAX_HEADER || hlen > size - 8)
        return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset 0: not a safetensors file: header length %llu is impossible",
                         path, (unsigned long long)hlen);
    uint8_t *json = malloc(hlen ? hlen : 1);
    if (!json) return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    df11_st_header h;
    s = df11_fd_read_exact(fd, path, json, hlen, 8, err);
    if (s == DF11_OK) s = df11_st_parse(path, json, hlen, size, &h, err);
    free(json);
    if (s != DF11_OK) return s;

    span *sp = calloc(h.count ? h.count : 1, sizeof *sp);
    bool ok = sp != NULL;
    size_t ns = 0; /* empty tensors own no bytes: leave them out */
    for (size_t i = 0; ok && i < h.count; i++)
        if (h.tensors[i].end > h.tensors[i].begin)
            sp[ns++] = (span){h.tensors[i].begin, h.tensors[i].end, kind_of(&h.tensors[i])};
    if (ok) qsort(sp, ns, sizeof *sp, by_begin);
    for (size_t i = 1; ok && i < ns; i++)
        if (sp[i].begin < sp[i - 1].end) { /* overlapping tensors: keep their bytes as they are */
            for (size_t j = 0; j < ns; j++) sp[j].kind = DF11_SEG_BYTES;
            break;
        }
    uint64_t cursor = 0;
    ok = ok && push(p, 0, h.data_start, DF11_SEG_BYTES);
    cursor = h.data_start;
    for (size_t i = 0; ok && i < ns; i++) {
        if (sp[i].end <= cursor) continue;
        uint64_t b = sp[i].begin > cursor ? sp[i].begin : cursor;
        ok = push(p, cursor, b, DF11_SEG_BYTES) &&
             push(p, b, sp[i].end, b == sp[i].begin ? sp[i].kind : DF11_SEG_BYTES);
        cursor = sp[i].end;
    }
    ok = ok && push(p, cursor, size, DF11_SEG_BYTES);
    free(sp);
    df11_st_free(&h);
    if (!ok) {
        df11_plan_free(p);
        return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    }
    return DF11_OK;
}

void df11_plan_free(df11_plan *p)
{
    free(p->segs);
    p->segs = NULL;
    p->count = 0;
}
