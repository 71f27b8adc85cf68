/*
 * fuzz_manifest: arbitrary bytes as a store manifest (store/manifest.c).
 * Byte 0 picks the form: bit 0 set, the rest is a JSON body to which a
 * valid header line (with its checksum) is added here, so mutations reach
 * the entry checks the fuzzer could not get past the checksum; clear, the
 * rest is a whole manifest file. Parsing must fail cleanly (no snapshot,
 * a message naming the file) or give a snapshot whose entries keep every
 * promise of df11store.h: sorted unique clean paths, the root first, every
 * entry in a listed folder, tree links that visit each entry once, lookup
 * finding each entry, kinds with the fields they need.
 */
#ifndef DF11_REPLAY
#include "../../store/manifest.c"
#else
#include "int.h"
#define XXH_INLINE_ALL
#include <xxhash.h>
#endif

#include <stdio.h>
#include <stdlib.h>

static void fm_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_manifest: invariant broken: %s\n", what);
        abort();
    }
}

static void fm_check(const df11store_snapshot *s)
{
    size_t n = df11store_snapshot_count(s);
    fm_require(n >= 1, "at least the root");
    const df11store_entry *root = df11store_snapshot_at(s, 0);
    fm_require(!root->path[0] && root->kind == DF11STORE_DIR && root->parent == 0, "root first");
    size_t *visits = calloc(n, sizeof *visits);
    fm_require(visits != NULL, "memory");
    for (size_t i = 0; i < n; i++) {
        const df11store_entry *e = df11store_snapshot_at(s, i);
        fm_require(df11store_snapshot_lookup(s, e->path) == e, "lookup finds the entry");
        if (i)
            fm_require(strcmp(df11store_snapshot_at(s, i - 1)->path, e->path) < 0, "sorted, unique");
        fm_require(e->path[0] != '/' && !strstr(e->path, "//"), "clean path");
        size_t pl = strlen(e->path), nl = strlen(e->name);
        fm_require(nl <= pl && !strcmp(e->path + pl - nl, e->name), "name ends the path");
        fm_require((e->kind == DF11STORE_FILE || e->kind == DF11STORE_DF11) == (e->object != NULL),
                   "objects exactly for files");
        fm_require((e->kind == DF11STORE_LINK) == (e->link_target != NULL), "targets exactly for links");
        if (e->kind == DF11STORE_FILE)
            fm_require(e->size == e->stored_size, "plain file sizes");
        if (e->kind == DF11STORE_LINK)
            fm_require(e->size == strlen(e->link_target), "link size");
        fm_require(e->mode <= 07777 && e->mtime_nsec < 1000000000u, "mode and mtime");
        const entry_priv *x = e->priv;
        fm_require(x != NULL, "priv");
        if (x->hashes)
            fm_require(x->nblocks == (e->stored_size + s->block_size - 1) / s->block_size &&
                       (x->key_hi | x->key_lo), "one hash per block, a cache key");
        if (i) {
            const df11store_entry *p = df11store_snapshot_at(s, e->parent);
            fm_require(p && p->kind == DF11STORE_DIR && e->parent < i, "in a listed folder");
        }
        for (size_t c = e->child; c != DF11STORE_NONE; c = df11store_snapshot_at(s, c)->sibling) {
            fm_require(c < n && df11store_snapshot_at(s, c)->parent == i, "child of its folder");
            visits[c]++;
            fm_require(visits[c] == 1, "each entry listed once");
        }
    }
    for (size_t i = 1; i < n; i++)
        fm_require(visits[i] == 1, "each entry listed by its folder");
    free(visits);
}

int fuzz_manifest(const uint8_t *d, size_t n)
{
    if (n == 0)
        return 0;
    const uint8_t *p = d + 1;
    size_t len = n - 1;
    uint8_t *wrapped = NULL;
    if (d[0] & 1) {
        char head[80];
        int h = snprintf(head, sizeof head, MF_MAGIC " %d %zu %016llx\n", MF_VERSION, len,
                         (unsigned long long)XXH3_64bits(p, len));
        wrapped = malloc((size_t)h + len + 1);
        if (!wrapped)
            return 0;
        memcpy(wrapped, head, (size_t)h);
        memcpy(wrapped + h, p, len);
        p = wrapped;
        len += (size_t)h;
    }
    df11store_snapshot *snap = NULL;
    df11_error e = { 0 };
    df11_status st = mf_parse(p, len, "fuzz.manifest", &snap, &e);
    if (st) {
        fm_require(snap == NULL, "failed parse leaves nothing");
        fm_require(e.code == st && strstr(e.message, "fuzz.manifest") != NULL, "error names the file");
    } else {
        fm_require(snap != NULL, "snapshot");
        fm_check(snap);
        df11store_snapshot_put(snap);
    }
    free(wrapped);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_manifest(d, n); }
#endif
