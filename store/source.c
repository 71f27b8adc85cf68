/*
 * source.c - df11_source over a stored object: direct pread for a local
 * folder without a disk cache, otherwise block by block through blocks.c.
 * Also df11store_open_object, a source over one URL with no manifest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "int.h"

typedef struct {
    df11store *s;
    objinfo *oi;
    atomic_ullong last_end;   /* end of the last read, for read-ahead */
    df11store *owned;         /* df11store_open_object: closed with us */
} src_ctx;

void objinfo_put(objinfo *oi)
{
    if (!oi || atomic_fetch_sub(&oi->refs, 1) != 1)
        return;
    free(oi->object);
    free(oi->display);
    free(oi->hashes);
    free(oi);
}

static df11_status src_read(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                            df11_error *err)
{
    src_ctx *c = ctx;
    objinfo *oi = c->oi;
    *got = 0;
    if (off >= oi->size || !len)
        return DF11_OK;
    if (len > oi->size - off)
        len = (size_t)(oi->size - off);
    uint64_t end_block = (off / oi->block_size + 1) * oi->block_size;
    if (off + len > end_block)
        len = (size_t)(end_block - off);   /* one block per call: a short read */
    /* Sequential: this read starts near where the last one ended (reader
     * threads decoding in order may arrive slightly out of order). */
    uint64_t last = atomic_load(&c->last_end);
    bool seq = off + (1u << 20) >= last && off <= last + (1u << 20);
    atomic_store(&c->last_end, off + len);
    df11_status st = blocks_read(c->s->blk, oi, buf, len, off, seq, err);
    if (!st)
        *got = len;
    return st;
}

static void src_close(void *ctx)
{
    src_ctx *c = ctx;
    objinfo_put(c->oi);
    df11store_close(c->owned);
    free(c);
}

static objinfo *objinfo_new(df11store *s, const char *object, uint64_t size, uint32_t bs,
                            const entry_priv *x)
{
    objinfo *oi = calloc(1, sizeof *oi);
    if (!oi)
        return NULL;
    atomic_init(&oi->refs, 1);
    oi->object = strdup(object);
    oi->display = origin_object_display(s->org, object);
    oi->size = size;
    oi->block_size = bs;
    oi->nblocks = (size + bs - 1) / bs;
    if (x && x->hashes) {
        oi->hashes = malloc((x->nblocks ? x->nblocks : 1) * 8);
        if (oi->hashes)
            memcpy(oi->hashes, x->hashes, x->nblocks * 8);
        oi->key_hi = x->key_hi;
        oi->key_lo = x->key_lo;
    }
    /* Objects with a content key share memory blocks across sources. */
    oi->mem_id = (oi->key_hi | oi->key_lo) ? (oi->key_hi ^ oi->key_lo) | (1ull << 63)
                                           : atomic_fetch_add(&s->next_mem_id, 1);
    if (!oi->object || !oi->display || (x && x->hashes && !oi->hashes)) {
        objinfo_put(oi);
        return NULL;
    }
    return oi;
}

df11_status df11store_source(df11store *s, const df11store_entry *e, df11_source *out,
                             df11_error *err)
{
    if (!s || !e || !out || (e->kind != DF11STORE_DF11 && e->kind != DF11STORE_FILE) || !e->object)
        return st_fail(err, DF11_E_ARG, "df11store_source: not a stored file");
    if (s->direct) {
        /* A local folder read in place: the codec's own fd source. */
        char *path = origin_object_display(s->org, e->object);
        if (!path)
            return st_fail(err, DF11_E_NOMEM, "out of memory");
        /* beneath the store folder, no symlink in any component */
        int fd = origin_local_open_object(s->org, e->object);
        if (fd < 0) {
            df11_status st = st_fail(err, DF11_E_IO, "%s: cannot open: %s", path, strerror(-fd));
            free(path);
            return st;
        }
        df11_status st = df11_source_fd(fd, path, out, err);
        if (st)
            close(fd);
        free(path);
        return st;
    }
    pthread_mutex_lock(&s->mu);
    uint32_t bs = s->cur->block_size;
    pthread_mutex_unlock(&s->mu);
    src_ctx *c = calloc(1, sizeof *c);
    if (c)
        c->oi = objinfo_new(s, e->object, e->stored_size, bs, e->priv);
    if (!c || !c->oi) {
        free(c);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    c->s = s;
    *out = (df11_source){ .ctx = c, .size = e->stored_size, .name = c->oi->display,
                          .read_at = src_read, .close = src_close };
    return DF11_OK;
}

df11_status df11store_open_object(const char *url, const df11store_options *o, df11_source *out,
                                  df11_error *err)
{
    if (!df11store_is_url(url))
        return st_fail(err, DF11_E_ARG, "%s: not an http://, https:// or s3:// URL", url ? url : "(null)");
    const char *slash = strrchr(url, '/');
    const char *scheme_end = strstr(url, "://") + 3;
    if (!slash || slash < scheme_end || !slash[1])
        return st_fail(err, DF11_E_ARG, "%s: no object name at the end of the URL", url);
    char *base = strndup(url, (size_t)(slash - url + 1));
    /* The last component arrives URL-encoded; origins encode it again. */
    char *obj = malloc(strlen(slash));
    if (!base || !obj) {
        free(base);
        free(obj);
        return st_fail(err, DF11_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (const char *p = slash + 1; *p; p++) {
        unsigned hi, lo;
        if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%1x%1x", &hi, &lo) == 2) {
            obj[k++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            obj[k++] = *p;
        }
    }
    obj[k] = 0;
    df11_status st = DF11_OK;
    /* Published as part of a store (a manifest beside it)? Then read it as
     * a store entry: verified blocks, the disk cache, offline mode. */
    df11store *s = NULL;
    if (df11store_open(base, o, &s, NULL) == DF11_OK) {
        df11store_snapshot *snap = df11store_snapshot_get(s);
        const df11store_entry *e = NULL;
        for (size_t i = 0; i < snap->n && !e; i++)
            if (snap->e[i].object && !strcmp(snap->e[i].object, obj))
                e = &snap->e[i];
        if (e && (st = df11store_source(s, e, out, err)) == DF11_OK)
            ((src_ctx *)out->ctx)->owned = s;
        df11store_snapshot_put(snap);
        if (e) {
            if (st)
                df11store_close(s);
            free(base);
            free(obj);
            return st;
        }
        df11store_close(s);
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(base))) {
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        free(s);
        s = NULL;
        goto out;
    }
    if (o)
        s->opt = *o;
    s->opt.cache_dir = s->opt.s3_endpoint = s->opt.s3_region = s->opt.proxy = s->opt.ca_file = NULL;
    pthread_mutex_init(&s->mu, NULL);
    df11store_options dflt;
    df11store_options_default(&dflt);
    if ((st = origin_http_open(base, o ? o : &dflt, &s->ctr, &s->org, err)))
        goto out;
    /* An empty snapshot, so the store's accessors stay well defined. */
    static const char empty_body[] = "{\"format\":\"df11-manifest\",\"version\":1,\"block_size\":4194304,"
                                     "\"entries\":[{\"path\":\"\",\"kind\":\"dir\"}]}";
    size_t wl;
    char *w = mf_wrap(empty_body, sizeof empty_body - 1, &wl);
    if (!w || (st = mf_parse(w, wl, url, &s->cur, err))) {
        free(w);
        st = st ? st : st_fail(err, DF11_E_NOMEM, "out of memory");
        goto out;
    }
    free(w);
    if ((st = blocks_new(s, &s->blk, err)))
        goto out;
    uint8_t one;
    uint64_t total = UINT64_MAX;
    char *disp = origin_object_display(s->org, obj);
    st = store_fetch(s, obj, disp ? disp : url, 0, 1, &one, UINT64_MAX, NULL, &total,
                     st_now_ns() + store_deadline(s), err);
    free(disp);
    if (!st && total == UINT64_MAX)
        st = st_fail(err, DF11_E_IO, "%s: the server does not say the object's size", url);
    if (st)
        goto out;
    src_ctx *c = calloc(1, sizeof *c);
    if (c)
        c->oi = objinfo_new(s, obj, total, DF11STORE_BLOCK_SIZE_DEFAULT, NULL);
    if (!c || !c->oi) {
        free(c);
        st = st_fail(err, DF11_E_NOMEM, "out of memory");
        goto out;
    }
    c->s = c->owned = s;
    s = NULL;
    *out = (df11_source){ .ctx = c, .size = total, .name = c->oi->display,
                          .read_at = src_read, .close = src_close };
out:
    df11store_close(s);
    free(base);
    free(obj);
    return st;
}
