/*
 * codec_ranges: df11_pread of arbitrary byte ranges against the original
 * bytes. Synthetic safetensors files are built so that tensors, lanes
 * (2048 elements) and chunks (64 KiB and 256 KiB) have boundaries in
 * awkward places; real models in /work/shared/models are used when present.
 * Ranges are drawn from a seeded generator (DF11_SEED replays a run).
 */
#include "codec_util.h"

#include <dirent.h>
#include <pthread.h>
#include <xxhash.h>
#include <zstd.h>

#define MAX_POINTS 4096

typedef struct {
    const char *label;
    const uint8_t *orig;
    size_t size;
    df11_reader *r;
    uint64_t points[MAX_POINTS]; /* chunk, tensor and header boundaries */
    size_t npoints;
} subject;

static void add_point(subject *s, uint64_t p)
{
    if (s->npoints < MAX_POINTS) s->points[s->npoints++] = p;
}

/* One range check; returns false (and prints why) on any difference. */
static bool check_range(subject *s, uint8_t *buf, uint64_t off, size_t len, const char **why)
{
    df11_error e = {0};
    memset(buf, 0xA5, len);
    df11_status st = df11_pread(s->r, buf, len, off, &e);
    if (st != DF11_OK) {
        printf("# %s: pread %llu+%zu: %s: %s\n", s->label, (unsigned long long)off, len,
               df11_status_name(st), e.message);
        *why = "pread failed";
        return false;
    }
    if (len && memcmp(buf, s->orig + off, len) != 0) {
        size_t i = 0;
        while (buf[i] == s->orig[off + i]) i++;
        printf("# %s: pread %llu+%zu: first difference at original offset %llu\n", s->label,
               (unsigned long long)off, len, (unsigned long long)(off + i));
        *why = "bytes differ from the original";
        return false;
    }
    return true;
}

/* A random range near the interesting places. */
static void draw_range(subject *s, tu_rng *g, uint64_t *off_out, size_t *len_out)
{
    uint64_t size = s->size, C = df11_chunk_size_max(s->r);
    uint64_t p = s->points[tu_below(g, s->npoints)];
    int64_t off;
    uint64_t len;
    switch (tu_below(g, 6)) {
    case 0: /* a few bytes around a boundary */
        off = (int64_t)p - (int64_t)tu_below(g, 8);
        len = tu_below(g, 17);
        break;
    case 1: /* straddling a boundary by up to a few hundred bytes each side */
        off = (int64_t)p - 1 - (int64_t)tu_below(g, 300);
        len = (uint64_t)((int64_t)p - off) + 1 + tu_below(g, 300);
        break;
    case 2: /* long, from a boundary: crosses several chunks */
        off = (int64_t)p + (int64_t)tu_below(g, 5) - 2;
        len = tu_below(g, 3 * C + 1);
        break;
    case 3: /* anywhere */
        off = (int64_t)tu_below(g, size + 1);
        len = tu_below(g, 2 * C);
        break;
    case 4: /* ending exactly at the last byte */
        len = 1 + tu_below(g, size < 2 * C ? size : 2 * C);
        off = (int64_t)(size - len);
        break;
    default: /* exactly one whole chunk */
        {
            uint32_t idx = (uint32_t)tu_below(g, df11_chunk_count(s->r));
            uint64_t o;
            uint32_t l;
            df11_chunk_extent(s->r, idx, &o, &l);
            off = (int64_t)o;
            len = l;
        }
    }
    if (off < 0) off = 0;
    if ((uint64_t)off > size) off = (int64_t)size;
    if (len > size - (uint64_t)off) len = size - (uint64_t)off;
    *off_out = (uint64_t)off;
    *len_out = (size_t)len;
}

static void collect_points(subject *s)
{
    s->npoints = 0;
    add_point(s, 0);
    add_point(s, 8);
    add_point(s, s->size);
    uint32_t nc = df11_chunk_count(s->r);
    for (uint32_t i = 0; i < nc; i++) {
        uint64_t o;
        uint32_t l;
        df11_chunk_extent(s->r, i, &o, &l);
        add_point(s, o);
    }
    size_t nt = 0;
    if (df11_tensor_count(s->r, &nt, NULL) == DF11_OK)
        for (size_t i = 0; i < nt; i++) {
            df11_tensor t;
            if (df11_tensor_get(s->r, i, &t, NULL) != DF11_OK) continue;
            add_point(s, t.offset);
            add_point(s, t.offset + t.length);
        }
}

/* Every chunk tiles the original exactly, and chunk_at agrees. */
static void check_tiling(subject *s, tu_rng *g)
{
    char name[160];
    snprintf(name, sizeof name, "ranges.%s.chunk_tiling", s->label);
    uint32_t nc = df11_chunk_count(s->r), cmax = df11_chunk_size_max(s->r);
    uint64_t pos = 0;
    bool ok = nc > 0 || s->size == 0;
    for (uint32_t i = 0; ok && i < nc; i++) {
        uint64_t o;
        uint32_t l;
        df11_chunk_extent(s->r, i, &o, &l);
        if (o != pos || l == 0 || l > cmax || df11_chunk_at(s->r, o) != i ||
            df11_chunk_at(s->r, o + l - 1) != i || df11_chunk_at(s->r, o + l / 2) != i) {
            tu_result(false, name, "chunk %u at %llu+%u (expected start %llu)", i,
                      (unsigned long long)o, l, (unsigned long long)pos);
            return;
        }
        pos += l;
    }
    if (ok && pos != s->size) {
        tu_result(false, name, "chunks cover %llu bytes of %zu", (unsigned long long)pos, s->size);
        return;
    }
    for (int k = 0; ok && k < 2000 && s->size; k++) {
        uint64_t off = tu_below(g, s->size), o;
        uint32_t i = df11_chunk_at(s->r, off), l;
        if (i >= nc) ok = false;
        else {
            df11_chunk_extent(s->r, i, &o, &l);
            ok = o <= off && off < o + l;
        }
        if (!ok) tu_result(false, name, "chunk_at(%llu) = %u does not hold it", (unsigned long long)off, i);
    }
    if (ok) tu_result(true, name, NULL);

    /* decode_chunk of every chunk, against the original */
    snprintf(name, sizeof name, "ranges.%s.decode_chunk_each", s->label);
    uint8_t *buf = malloc(cmax);
    ok = buf != NULL;
    for (uint32_t i = 0; ok && i < nc; i++) {
        uint64_t o;
        uint32_t l;
        df11_chunk_extent(s->r, i, &o, &l);
        df11_error e = {0};
        df11_status st = df11_decode_chunk(s->r, i, buf, &e);
        if (st != DF11_OK || memcmp(buf, s->orig + o, l) != 0) {
            tu_result(false, name, "chunk %u: %s %s", i, df11_status_name(st), e.message);
            ok = false;
            free(buf);
            return;
        }
    }
    free(buf);
    tu_result(ok, name, "out of memory");
}

static void check_edges(subject *s)
{
    char name[160];
    uint8_t *buf = malloc(s->size ? s->size : 1);
    const char *why = "";
    uint8_t one[1];
    snprintf(name, sizeof name, "ranges.%s.whole_file", s->label);
    tu_result(buf && check_range(s, buf, 0, s->size, &why), name, "%s", why);
    snprintf(name, sizeof name, "ranges.%s.last_byte", s->label);
    tu_result(s->size && check_range(s, one, s->size - 1, 1, &why), name, "%s", why);
    snprintf(name, sizeof name, "ranges.%s.zero_length", s->label);
    bool ok = df11_pread(s->r, one, 0, 0, NULL) == DF11_OK &&
              df11_pread(s->r, one, 0, s->size / 2, NULL) == DF11_OK &&
              df11_pread(s->r, one, 0, s->size, NULL) == DF11_OK &&
              df11_pread(s->r, NULL, 0, 0, NULL) == DF11_OK;
    tu_result(ok, name, "a zero-length read inside the file failed");

    snprintf(name, sizeof name, "ranges.%s.bad_chunk_index_is_E_ARG", s->label);
    df11_error ce = {0};
    tu_result(buf && df11_decode_chunk(s->r, df11_chunk_count(s->r), buf, &ce) == DF11_E_ARG &&
                  df11_decode_chunk(s->r, UINT32_MAX, buf, NULL) == DF11_E_ARG,
              name, "%s", ce.message);

    snprintf(name, sizeof name, "ranges.%s.past_end_is_E_RANGE", s->label);
    struct { uint64_t off; size_t len; } bad[] = {
        {s->size, 1}, {s->size + 1, 0}, {s->size - 1, 2}, {0, s->size + 1},
        {UINT64_MAX, 1}, {UINT64_MAX, 0}, {1, SIZE_MAX}, {s->size / 2, SIZE_MAX - 7},
    };
    ok = true;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        df11_error e = {0};
        /* the buffer is never written: the range is refused before decoding */
        df11_status st = df11_pread(s->r, buf, bad[i].len, bad[i].off, &e);
        if (st != DF11_E_RANGE || e.code != DF11_E_RANGE || !strstr(e.message, df11_path(s->r))) {
            printf("# %s: pread %llu+%zu gave %s (%s)\n", s->label, (unsigned long long)bad[i].off,
                   bad[i].len, df11_status_name(st), e.message);
            ok = false;
        }
    }
    tu_result(ok, name, "see above");
    free(buf);
}

static void check_random(subject *s, tu_rng *g, int count)
{
    char name[160];
    snprintf(name, sizeof name, "ranges.%s.random_%d", s->label, count);
    uint8_t *buf = malloc(4 * (size_t)df11_chunk_size_max(s->r));
    const char *why = "";
    bool ok = buf != NULL;
    for (int k = 0; ok && k < count; k++) {
        uint64_t off;
        size_t len;
        draw_range(s, g, &off, &len);
        ok = check_range(s, buf, off, len, &why);
    }
    free(buf);
    tu_result(ok, name, "%s", why);
}

typedef struct {
    subject *s;
    uint64_t seed;
    int reads, bad;
} thread_arg;

static void *reader_thread(void *p)
{
    thread_arg *a = p;
    tu_rng g = {a->seed};
    uint8_t *buf = malloc(4 * (size_t)df11_chunk_size_max(a->s->r));
    if (!buf) {
        a->bad = -1;
        return NULL;
    }
    for (int k = 0; k < a->reads; k++) {
        uint64_t off;
        size_t len;
        draw_range(a->s, &g, &off, &len);
        memset(buf, 0x5A, len);
        if (df11_pread(a->s->r, buf, len, off, NULL) != DF11_OK ||
            (len && memcmp(buf, a->s->orig + off, len) != 0))
            a->bad++;
    }
    free(buf);
    return NULL;
}

static void check_threads(subject *s, uint64_t seed, int reads)
{
    char name[160];
    snprintf(name, sizeof name, "ranges.%s.threads4", s->label);
    pthread_t th[4];
    thread_arg a[4];
    int started = 0, bad = 0;
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){s, seed + 1000003u * (uint64_t)(i + 1), reads, 0};
        if (pthread_create(&th[i], NULL, reader_thread, &a[i]) == 0) started++;
        else break;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    tu_result(started == 4 && bad == 0, name, "%d of %d threads started, %d bad reads", started,
              4, bad);
}

/* Encodes in_path into out_path with chunk_log2 and runs every check. */
static void run_subject(const char *label, const char *in_path, const char *out_path,
                        uint32_t chunk_log2, uint64_t seed, int nrandom)
{
    char name[160];
    subject *s = calloc(1, sizeof *s);
    if (!s) return;
    s->label = label;
    s->orig = tu_read_file(in_path, &s->size);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = chunk_log2;
    o.threads = 2;
    df11_error e = {0};
    snprintf(name, sizeof name, "ranges.%s.encode_open", label);
    df11_status st = s->orig ? df11_encode_file(in_path, out_path, &o, &e) : DF11_E_IO;
    if (st == DF11_OK) st = df11_open(out_path, &s->r, &e);
    if (st == DF11_OK && df11_original_size(s->r) != s->size) st = DF11_E_INTERNAL;
    tu_result(st == DF11_OK, name, "%s: %s", df11_status_name(st), e.message);
    if (st == DF11_OK) {
        tu_rng g = {seed};
        collect_points(s);
        printf("# %s: %zu bytes, %u chunks of up to %u, stored %llu, %zu boundary points\n", label,
               s->size, df11_chunk_count(s->r), df11_chunk_size_max(s->r),
               (unsigned long long)df11_stored_size(s->r), s->npoints);
        check_tiling(s, &g);
        check_edges(s);
        check_random(s, &g, nrandom);
        check_threads(s, seed ^ 0x7777, nrandom / 8 + 1);
    }
    df11_close(s->r);
    unlink(out_path);
    free((void *)s->orig);
    free(s);
}

/* The synthetic model: boundaries of every kind close together. */
static bool make_synthetic(const char *path, tu_rng *g, size_t *ntensors_out, tu_tensor *t_out)
{
    static const struct { const char *name, *dtype; size_t elems, width; int fill; } spec[] = {
        {"tiny", "BF16", 1, 2, 0},
        {"embed", "BF16", 300001, 2, 0},       /* crosses 256 KiB chunk boundaries */
        {"u8_odd", "U8", 3, 1, 2},             /* shifts everything after by 3 bytes */
        {"lanes_2049", "BF16", 2049, 2, 0},    /* one element past a lane */
        {"lanes_4096", "BF16", 4096, 2, 0},    /* exactly two lanes */
        {"exact_chunk", "BF16", 131072, 2, 0}, /* exactly one default chunk */
        {"const_bits", "BF16", 5000, 2, 3},    /* every element 1.0: zstd */
        {"const_exp", "BF16", 40000, 2, 4},    /* one exponent, random mantissa: constant code */
        {"f32", "F32", 70001, 4, 1},
        {"i32", "I32", 10000, 4, 2},
        {"after", "BF16", 1025, 2, 0},
    };
    size_t n = sizeof spec / sizeof spec[0];
    uint8_t *data[sizeof spec / sizeof spec[0]];
    for (size_t i = 0; i < n; i++) {
        size_t len = spec[i].elems * spec[i].width;
        data[i] = malloc(len);
        if (!data[i]) return false;
        switch (spec[i].fill) {
        case 0: tu_fill_bf16(g, data[i], spec[i].elems, 0.02); break;
        case 1: tu_fill_f32(g, data[i], spec[i].elems, 0.02); break;
        case 2: tu_fill_random(g, data[i], len); break;
        case 3:
            for (size_t k = 0; k < spec[i].elems; k++) data[i][2 * k] = 0x80, data[i][2 * k + 1] = 0x3F;
            break;
        default:
            for (size_t k = 0; k < spec[i].elems; k++) {
                uint16_t v = (uint16_t)(0x3F80 | (tu_next(g) & 0x807F)); /* +-[1, 2) */
                data[i][2 * k] = (uint8_t)v;
                data[i][2 * k + 1] = (uint8_t)(v >> 8);
            }
        }
        t_out[i] = (tu_tensor){spec[i].name, spec[i].dtype, spec[i].elems, data[i], len};
    }
    size_t size;
    uint8_t *file = tu_write_safetensors(path, t_out, n, &size);
    bool ok = file != NULL;
    for (size_t i = 0; i < n; i++) free(data[i]);
    free(file);
    *ntensors_out = n;
    return ok;
}

/* The tensor table read back from the .df11 matches what was written. */
static void check_tensor_table(const char *in_path, const char *out_path, const tu_tensor *t,
                               size_t n)
{
    df11_reader *r = NULL;
    df11_error e = {0};
    size_t count = 0;
    bool ok = df11_encode_file(in_path, out_path, NULL, &e) == DF11_OK &&
              df11_open(out_path, &r, &e) == DF11_OK && df11_tensor_count(r, &count, &e) == DF11_OK &&
              count == n;
    uint64_t prev_end = 0;
    for (size_t i = 0; ok && i < n; i++) {
        df11_tensor d;
        ok = df11_tensor_get(r, i, &d, &e) == DF11_OK && strcmp(d.name, t[i].name) == 0 &&
             strcmp(d.dtype, t[i].dtype) == 0 && d.length == t[i].len &&
             d.elements == t[i].shape0 && (i == 0 || d.offset == prev_end);
        prev_end = d.offset + d.length;
        if (ok && strcmp(d.dtype, "BF16") == 0 && strcmp(d.name, "embed") == 0)
            ok = d.codec == DF11_CODEC_EXP;
    }
    ok = ok && df11_tensor_get(r, n, &(df11_tensor){0}, NULL) == DF11_E_ARG;
    tu_result(ok, "ranges.synthetic.tensor_table", "count %zu of %zu: %s", count, n, e.message);
    df11_close(r);
    unlink(out_path);
}

/* FORMAT.md 3: "An original file of size 0 has no segments and no chunks."
 * The encoder never writes one (it wants a safetensors header), so the file
 * is built here by hand, straight from the spec. */
static void check_zero_size(const char *dir)
{
    static const uint8_t magic[8] = {'D', 'F', '1', '1', 0x0D, 0x0A, 0x1A, 0x0A};
    static const uint8_t sha_empty[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    uint8_t f[128 + 64] = {0};
    memcpy(f, magic, 8);
    f[8] = 1;                       /* version 1.0 */
    memcpy(f + 24, sha_empty, 32);
    f[56] = 18;                     /* chunk_log2 */
    f[61] = 0x08;                   /* lane_symbols 2048 */
    f[72] = 128;                    /* index_offset */
    size_t z = ZSTD_compress(f + 128, 64, "", 0, 3);
    uint64_t ix = XXH3_64bits("", 0), hx;
    for (int i = 0; i < 8; i++) f[80 + i] = (uint8_t)((uint64_t)z >> (8 * i)), f[88 + i] = (uint8_t)(ix >> (8 * i));
    hx = XXH3_64bits(f, 120);
    for (int i = 0; i < 8; i++) f[120 + i] = (uint8_t)(hx >> (8 * i));
    char path[4200];
    snprintf(path, sizeof path, "%s/zero.df11", dir);
    df11_reader *r = NULL;
    df11_error e = {0};
    uint8_t one[1];
    size_t count;
    bool ok = !ZSTD_isError(z) && tu_write_file(path, f, 128 + z) && df11_open(path, &r, &e) == DF11_OK &&
              df11_original_size(r) == 0 && df11_chunk_count(r) == 0 &&
              df11_pread(r, one, 0, 0, &e) == DF11_OK && df11_pread(r, one, 1, 0, NULL) == DF11_E_RANGE &&
              df11_verify(r, 1, NULL, NULL, &e) == DF11_OK &&
              df11_tensor_count(r, &count, NULL) == DF11_E_NOT_SAFETENSORS;
    tu_result(ok, "ranges.zero_size_original", "%s", e.message);
    df11_close(r);
    unlink(path);
}

int main(void)
{
    uint64_t seed = tu_seed("codec_ranges");
    tu_rng g = {seed};
    char *dir = tu_tempdir();
    if (!dir) {
        printf("FAIL ranges.tempdir: %s\n", strerror(errno));
        return 1;
    }
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/synthetic.safetensors", dir);
    snprintf(out, sizeof out, "%s/synthetic.df11", dir);
    tu_tensor t[16];
    size_t nt = 0;
    bool made = make_synthetic(in, &g, &nt, t);
    tu_result(made, "ranges.synthetic.write", "cannot write %s", in);
    if (made) {
        check_tensor_table(in, out, t, nt);
        run_subject("synthetic.c18", in, out, 18, tu_next(&g), 3000);
        run_subject("synthetic.c16", in, out, 16, tu_next(&g), 3000);
    }
    unlink(in);
    check_zero_size(dir);
    {
        df11_reader *r = (df11_reader *)1;
        df11_error e = {0};
        char missing[4200];
        snprintf(missing, sizeof missing, "%s/missing.df11", dir);
        bool ok = df11_open(NULL, &r, NULL) == DF11_E_ARG &&
                  df11_open(missing, &r, &e) == DF11_E_IO && r == NULL && strstr(e.message, missing);
        tu_result(ok, "ranges.open_bad_arguments", "%s", e.message);
    }

    const char *models = "/work/shared/models";
    DIR *d = opendir(models);
    int found = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 12 || strcmp(de->d_name + l - 12, ".safetensors") != 0) continue;
        char label[300];
        snprintf(in, sizeof in, "%s/%s", models, de->d_name);
        snprintf(out, sizeof out, "%s/model.df11", dir);
        snprintf(label, sizeof label, "model.%.*s", (int)(l - 12), de->d_name);
        run_subject(label, in, out, 18, tu_next(&g), 400);
        found++;
    }
    if (d) closedir(d);
    if (!found) printf("SKIP ranges.models no *.safetensors in %s\n", models);
    rmdir(dir);
    free(dir);
    return tu_failures ? 1 : 0;
}
