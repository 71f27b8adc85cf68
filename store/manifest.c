/*
 * manifest.c - the manifest file, read: header line, checksum, JSON body,
 * every entry checked, then a snapshot (sorted entries, tree links, block
 * hashes, cache identities). doc/STORE.md "Manifest" is the format.
 *
 *   DF11MANIFEST 1 <body bytes> <XXH3-64 of the body, 16 hex>\n
 *   {"format":"df11-manifest","version":1,"block_size":4194304,
 *    "entries":[{"path":"","kind":"dir","mode":493,"mtime":..,"mtime_nsec":..},
 *               {"path":"model.safetensors","kind":"df11","object":"model.df11",
 *                "size":..,"stored_size":..,"mode":420,"mtime":..,"mtime_nsec":..,
 *                "sha256":"<64 hex>","blocks":"<16 hex per block>"}, ...]}
 *
 * The input is untrusted (it comes from an origin): every field is checked
 * before use, and tests/fuzz/fuzz_manifest.c hunts for what slips through.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "int.h"

#define MF_MAX_ENTRIES 10000000u
#define NUM_MAX 9007199254740992.0   /* 2^53: exact in a JSON double */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static bool parse_hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int a = hexval((unsigned char)s[2 * i]), b = a < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
        if (b < 0)
            return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}

/* A relative path of non-empty components other than . and .., each at
 * most NAME_MAX bytes. "" (the root) only where allow_root. */
static bool path_ok(const char *p, bool allow_root)
{
    size_t n = strlen(p);
    if (n == 0)
        return allow_root;
    if (n >= PATH_MAX)
        return false;
    const char *c = p;
    for (;;) {
        const char *slash = strchr(c, '/');
        size_t k = slash ? (size_t)(slash - c) : strlen(c);
        if (k == 0 || k > NAME_MAX || (k == 1 && c[0] == '.') ||
            (k == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (!slash)
            return true;
        c = slash + 1;
    }
}

static bool get_num(const cJSON *o, const char *key, double lo, double *out, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = 0;
        return !required;
    }
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= lo && d <= NUM_MAX) || d != (double)(int64_t)d)
        return false;
    *out = d;
    return true;
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const df11store_entry *)a)->path, ((const df11store_entry *)b)->path);
}

static const df11store_entry *find(const df11store_entry *e, size_t n, const char *path)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(e[mid].path, path);
        if (c == 0)
            return &e[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const df11store_entry *df11store_snapshot_lookup(const df11store_snapshot *snap, const char *path)
{
    if (!snap || !path)
        return NULL;
    return find(snap->e, snap->n, path);
}

void df11store_snapshot_put(df11store_snapshot *snap)
{
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
        return;
    free(snap->e);
    free(snap->x);
    free(snap->arena);
    free(snap);
}

size_t df11store_snapshot_count(const df11store_snapshot *snap) { return snap ? snap->n : 0; }
const df11store_entry *df11store_snapshot_at(const df11store_snapshot *snap, size_t i)
{
    return snap && i < snap->n ? &snap->e[i] : NULL;
}
uint64_t df11store_snapshot_generation(const df11store_snapshot *snap)
{
    return snap ? snap->generation : 0;
}

/* Bump allocator over one block, sized by a first pass. */
typedef struct {
    char *base;
    size_t used, cap;
} arena;

static void *arena_take(arena *a, size_t n, size_t align)
{
    size_t at = (a->used + align - 1) & ~(align - 1);
    if (at + n > a->cap)
        return NULL;
    a->used = at + n;
    return a->base + at;
}

static const char *arena_str(arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_take(a, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

static df11_status bad(df11_error *err, const char *name, size_t i, const char *why)
{
    if (i == SIZE_MAX)
        return st_fail(err, DF11_E_CORRUPT_INDEX, "%s: bad manifest: %s", name, why);
    return st_fail(err, DF11_E_CORRUPT_INDEX, "%s: bad manifest: entry %zu: %s", name, i, why);
}

/* Header line -> body pointer and length, checksum verified. */
static df11_status parse_header(const char *buf, size_t len, const char *name,
                                const char **body, size_t *body_len, df11_error *err)
{
    static const char magic[] = MF_MAGIC " ";
    size_t m = sizeof magic - 1;
    if (len < m || memcmp(buf, magic, m) != 0)
        return st_fail(err, DF11_E_BAD_MAGIC, "%s: not a df11 store manifest", name);
    const char *p = buf + m, *end = buf + len;
    uint64_t ver = 0, blen = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 9) {
        ver = ver * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (!digits || p >= end || *p != ' ')
        return bad(err, name, SIZE_MAX, "header line: no version");
    if (ver != MF_VERSION)
        return st_fail(err, DF11_E_VERSION, "%s: manifest version %llu not supported (this library reads %d)",
                       name, (unsigned long long)ver, MF_VERSION);
    p++;
    digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 12) {
        blen = blen * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (!digits || p >= end || *p != ' ')
        return bad(err, name, SIZE_MAX, "header line: no body length");
    p++;
    uint8_t sum[8];
    if (end - p < 17 || !parse_hex(p, 8, sum) || p[16] != '\n')
        return bad(err, name, SIZE_MAX, "header line: no checksum");
    p += 17;
    if ((uint64_t)(end - p) != blen)
        return st_fail(err, DF11_E_TRUNCATED, "%s: manifest body is %llu bytes, its header says %llu",
                       name, (unsigned long long)(end - p), (unsigned long long)blen);
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        want = want << 8 | sum[i];
    if (XXH3_64bits(p, blen) != want)
        return st_fail(err, DF11_E_CHECKSUM, "%s: manifest fails its checksum", name);
    *body = p;
    *body_len = blen;
    return DF11_OK;
}

df11_status mf_parse(const void *buf, size_t len, const char *name,
                     df11store_snapshot **out, df11_error *err)
{
    const char *body = NULL;
    size_t blen = 0;
    *out = NULL;
    if (len > MF_MAX_BYTES)
        return bad(err, name, SIZE_MAX, "larger than 1 GiB");
    df11_status st = parse_header(buf, len, name, &body, &blen, err);
    if (st)
        return st;
    cJSON *root = cJSON_ParseWithLength(body, blen);
    if (!root)
        return bad(err, name, SIZE_MAX, "body is not valid JSON");
    df11store_snapshot *snap = NULL;
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(root, "entries");
    const char *fmt = get_str(root, "format");
    double ver, bs;
    if (!fmt || strcmp(fmt, "df11-manifest") != 0) {
        st = bad(err, name, SIZE_MAX, "format is not df11-manifest");
        goto out;
    }
    if (!get_num(root, "version", 0, &ver, true) || ver != MF_VERSION) {
        st = st_fail(err, DF11_E_VERSION, "%s: manifest body version not supported", name);
        goto out;
    }
    if (!get_num(root, "block_size", 0, &bs, true) || bs < 65536 || bs > (64 << 20) ||
        ((uint64_t)bs & ((uint64_t)bs - 1))) {
        st = bad(err, name, SIZE_MAX, "block_size is not a power of two from 64 KiB to 64 MiB");
        goto out;
    }
    uint32_t block_size = (uint32_t)bs;
    if (!cJSON_IsArray(ents)) {
        st = bad(err, name, SIZE_MAX, "no entries array");
        goto out;
    }
    int n_int = cJSON_GetArraySize(ents);
    if (n_int <= 0 || (unsigned)n_int > MF_MAX_ENTRIES) {
        st = bad(err, name, SIZE_MAX, "no entries, or too many");
        goto out;
    }
    size_t n = (size_t)n_int;

    /* Pass 1: check every field and size the arena. */
    size_t need = 0, i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ents) {
        const char *path = get_str(it, "path"), *kind = get_str(it, "kind");
        const char *obj = get_str(it, "object"), *tgt = get_str(it, "target");
        const char *sha = get_str(it, "sha256"), *blk = get_str(it, "blocks");
        double size, ssize, mode, mt, mtn;
        if (!cJSON_IsObject(it) || !path || !kind) {
            st = bad(err, name, i, "not an object with path and kind");
            goto out;
        }
        if (!path_ok(path, true)) {
            st = bad(err, name, i, "path is not a clean relative path");
            goto out;
        }
        if (!get_num(it, "size", 0, &size, false) || !get_num(it, "stored_size", 0, &ssize, false) ||
            !get_num(it, "mode", 0, &mode, false) || mode > 07777 ||
            !get_num(it, "mtime", -NUM_MAX, &mt, false) ||
            !get_num(it, "mtime_nsec", 0, &mtn, false) || mtn >= 1e9) {
            st = bad(err, name, i, "size, stored_size, mode or mtime out of range");
            goto out;
        }
        bool is_dir = !strcmp(kind, "dir"), is_file = !strcmp(kind, "file");
        bool is_link = !strcmp(kind, "link"), is_df11 = !strcmp(kind, "df11");
        if (!is_dir && !is_file && !is_link && !is_df11) {
            st = bad(err, name, i, "unknown kind");
            goto out;
        }
        if ((is_file || is_df11) != (obj != NULL) || (obj && !path_ok(obj, false))) {
            st = bad(err, name, i, "object missing, unexpected or not a clean relative path");
            goto out;
        }
        if (is_link != (tgt != NULL) || (tgt && (!*tgt || strlen(tgt) >= PATH_MAX))) {
            st = bad(err, name, i, "link target missing, unexpected or empty");
            goto out;
        }
        if (is_df11 != (sha != NULL) || (sha && (strlen(sha) != 64))) {
            st = bad(err, name, i, "sha256 missing, unexpected or not 64 hex digits");
            goto out;
        }
        if (is_file && size != ssize) {
            st = bad(err, name, i, "a plain file whose size and stored_size differ");
            goto out;
        }
        if (is_df11 && ssize < DF11_HEADER_BYTES) {
            st = bad(err, name, i, "a .df11 object smaller than its header");
            goto out;
        }
        if ((is_dir && (size || ssize)) || (is_link && (size != (double)strlen(tgt) || ssize))) {
            st = bad(err, name, i, "size of a folder or link is wrong");
            goto out;
        }
        if (!path[0] && !is_dir) {
            st = bad(err, name, i, "the root is not a folder");
            goto out;
        }
        uint64_t nblocks = ((uint64_t)ssize + block_size - 1) / block_size;
        if (blk && ((!is_file && !is_df11) || strlen(blk) != nblocks * 16)) {
            st = bad(err, name, i, "blocks: not one 16-hex-digit hash per block of the object");
            goto out;
        }
        need += strlen(path) + 1 + (obj ? strlen(obj) + 1 : 0) + (tgt ? strlen(tgt) + 1 : 0);
        if (blk)
            need += nblocks * 8 + 16;   /* + count + alignment */
        i++;
    }
    snap = calloc(1, sizeof *snap);
    arena a = { .base = malloc(need + 16), .cap = need + 16 };
    if (snap) {
        snap->e = calloc(n, sizeof *snap->e);
        snap->x = calloc(n, sizeof *snap->x);
        snap->arena = a.base;
    }
    if (!snap || !snap->e || !snap->x || !a.base) {
        if (!snap)
            free(a.base);
        st = st_fail(err, DF11_E_NOMEM, "%s: out of memory reading the manifest", name);
        goto out;
    }
    atomic_init(&snap->refs, 1);
    snap->generation = 1;
    snap->block_size = block_size;
    snap->n = n;
    snap->content_xxh3 = XXH3_64bits(body, blen);

    /* Pass 2: copy. Hashes go into x[i] for now; entries are sorted next,
     * so the priv link is set after the sort. */
    i = 0;
    cJSON_ArrayForEach(it, ents) {
        df11store_entry *e = &snap->e[i];
        const char *kind = get_str(it, "kind"), *obj = get_str(it, "object");
        const char *tgt = get_str(it, "target"), *sha = get_str(it, "sha256");
        const char *blk = get_str(it, "blocks");
        double v;
        e->path = arena_str(&a, get_str(it, "path"));
        e->object = obj ? arena_str(&a, obj) : NULL;
        e->link_target = tgt ? arena_str(&a, tgt) : NULL;
        e->kind = !strcmp(kind, "dir") ? DF11STORE_DIR : !strcmp(kind, "file") ? DF11STORE_FILE
                : !strcmp(kind, "link") ? DF11STORE_LINK : DF11STORE_DF11;
        get_num(it, "size", 0, &v, false), e->size = (uint64_t)v;
        get_num(it, "stored_size", 0, &v, false), e->stored_size = (uint64_t)v;
        get_num(it, "mode", 0, &v, false), e->mode = (uint32_t)v;
        get_num(it, "mtime", -NUM_MAX, &v, false), e->mtime_sec = (int64_t)v;
        get_num(it, "mtime_nsec", 0, &v, false), e->mtime_nsec = (uint32_t)v;
        if (sha && !parse_hex(sha, 32, e->sha256)) {
            st = bad(err, name, i, "sha256 is not hex");
            goto out;
        }
        const char *slash = strrchr(e->path, '/');
        e->name = slash ? slash + 1 : e->path;
        e->parent = e->child = e->sibling = DF11STORE_NONE;
        /* e->priv temporarily points at the entry's hash array. */
        if (blk) {
            uint64_t nb = strlen(blk) / 16;
            uint64_t *h = arena_take(&a, nb * 8 + 8, 8);
            if (!h) {
                st = st_fail(err, DF11_E_INTERNAL, "%s: manifest arena too small", name);
                goto out;
            }
            for (uint64_t k = 0; k < nb; k++) {
                uint8_t raw[8];
                if (!parse_hex(blk + 16 * k, 8, raw)) {
                    st = bad(err, name, i, "blocks is not hex");
                    goto out;
                }
                uint64_t x = 0;
                for (int j = 0; j < 8; j++)
                    x = x << 8 | raw[j];
                h[k] = x;
            }
            h[nb] = nb;   /* count, read back below */
            e->priv = h;
        }
        if (!e->path || (obj && !e->object) || (tgt && !e->link_target)) {
            st = st_fail(err, DF11_E_INTERNAL, "%s: manifest arena too small", name);
            goto out;
        }
        i++;
    }
    qsort(snap->e, n, sizeof *snap->e, cmp_entry);
    if (snap->e[0].path[0]) {
        st = bad(err, name, SIZE_MAX, "no root entry");
        goto out;
    }
    for (i = 0; i < n; i++) {
        df11store_entry *e = &snap->e[i];
        entry_priv *x = &snap->x[i];
        if (i && !strcmp(snap->e[i - 1].path, e->path)) {
            st = bad(err, name, i, "path listed twice");
            goto out;
        }
        if (e->priv) {
            const uint64_t *h = e->priv;
            uint64_t nb = (e->stored_size + block_size - 1) / block_size;
            x->hashes = h;
            x->nblocks = nb;
            XXH3_state_t s3;
            XXH3_128bits_reset(&s3);
            uint64_t hdr[2] = { e->stored_size, block_size };
            XXH3_128bits_update(&s3, hdr, sizeof hdr);
            XXH3_128bits_update(&s3, h, nb * 8);
            XXH128_hash_t k = XXH3_128bits_digest(&s3);
            x->key_hi = k.high64;
            x->key_lo = k.low64 | 1;   /* never (0,0): that means "no key" */
        }
        e->priv = x;
    }
    /* Parents: every entry but the root sits in a listed folder. */
    snap->e[0].parent = 0;
    for (i = 1; i < n; i++) {
        df11store_entry *e = &snap->e[i];
        size_t plen = (size_t)(e->name - e->path);
        char *pp = strndup(e->path, plen ? plen - 1 : 0);
        if (!pp) {
            st = st_fail(err, DF11_E_NOMEM, "%s: out of memory", name);
            goto out;
        }
        const df11store_entry *p = find(snap->e, n, pp);
        free(pp);
        if (!p || p->kind != DF11STORE_DIR) {
            st = bad(err, name, i, "its folder is not listed");
            goto out;
        }
        e->parent = (size_t)(p - snap->e);
    }
    /* Children in name order: walking backwards, each entry becomes its
     * parent's first child. Sorting by full path keeps the names of one
     * folder in byte order. */
    for (i = n; i-- > 1;) {
        df11store_entry *p = &snap->e[snap->e[i].parent];
        snap->e[i].sibling = p->child;
        p->child = i;
    }
    st = DF11_OK;
out:
    cJSON_Delete(root);
    if (st) {
        df11store_snapshot_put(snap);
        return st;
    }
    *out = snap;
    return DF11_OK;
}
