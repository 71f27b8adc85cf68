/*
 * codec_bench: libdf11 on one .safetensors file, every figure next to a
 * baseline measured in the same process on the same bytes.
 *
 *   ratio    df11 vs zstd (chunked like df11, and whole-file) and the
 *            entropy bounds of the BF16 tensors, computed from the file
 *   decode   df11_decode_chunk vs memcpy and ZSTD_decompress, 1..N threads
 *   pread    random 4 KiB df11_pread vs pread(2) of the original and a zstd
 *            chunk decode
 *   encode   df11_encode_file vs chunked zstd compression, same threads
 *
 * Every decoder's output is compared with the original bytes before its
 * timings count. Timed passes of the decoders are interleaved round by
 * round, so a burst of load from another process hits all of them alike.
 * The "@ key value" lines at the end are the results for bench/run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zstd.h>

#include "df11.h"

#define MAX_THREADS 64
#define MAX_LEVELS 4
#define READ_SIZE 4096

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (every thread), user + system. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double percentile(double *sorted, int n, double p)
{
    int k = (int)ceil(p * n) - 1;
    return sorted[k < 0 ? 0 : (k >= n ? n - 1 : k)];
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "codec_bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Key/value lines for bench/run, kept apart from the tables and printed
 * last so the tables stay readable. */
static char results[1 << 16];
static size_t results_len;

__attribute__((format(printf, 1, 2))) static void result(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(results + results_len, sizeof results - results_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof results - results_len)
        results_len += (size_t)n;
}

static void print_results(void)
{
    const char *p = results;
    printf("\n== results (key value) ==\n");
    while (*p) {
        const char *e = strchr(p, '\n');
        printf("@ %.*s\n", (int)(e - p), p);
        p = e + 1;
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: a fixed, reproducible offset sequence */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void write_all(int fd, const void *p, size_t n, uint64_t off, const char *path)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write %s: %s", path, strerror(errno));
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

static int read_all(int fd, void *p, size_t n, uint64_t off)
{
    char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* A pass over n items on T threads; each thread pulls the next item    */
/* from a shared counter, so the subsets are disjoint and balanced.     */
/* ------------------------------------------------------------------ */

typedef int (*item_fn)(void *ctx, uint32_t i, int tid); /* 0: ok */

typedef struct {
    item_fn fn;
    void *ctx;
    uint32_t n;
    atomic_uint next;
    atomic_int failed;
} par_job;

typedef struct {
    par_job *j;
    int tid;
} par_arg;

static void *par_worker(void *p)
{
    par_arg *a = p;
    unsigned i;
    while (!atomic_load(&a->j->failed) && (i = atomic_fetch_add(&a->j->next, 1)) < a->j->n)
        if (a->j->fn(a->j->ctx, i, a->tid))
            atomic_store(&a->j->failed, 1);
    return NULL;
}

/* Seconds for the whole pass, or -1 when an item failed. */
static double par_run(item_fn fn, void *ctx, uint32_t n, int threads)
{
    par_job j = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_t tid[MAX_THREADS];
    par_arg args[MAX_THREADS];
    int started = 0;
    double t0 = now();
    for (int t = 1; t < threads; t++) {
        args[t].j = &j;
        args[t].tid = t;
        if (pthread_create(&tid[t], NULL, par_worker, &args[t]) != 0)
            die("pthread_create failed");
        started = t;
    }
    args[0].j = &j;
    args[0].tid = 0;
    par_worker(&args[0]);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    double dt = now() - t0;
    return atomic_load(&j.failed) ? -1.0 : dt;
}

/* ------------------------------------------------------------------ */
/* The input file, mapped and warm                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *path;
    int fd;
    const uint8_t *map;
    size_t size;
} input;

static void input_open(input *in, const char *path)
{
    struct stat st;
    in->path = path;
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0 || fstat(in->fd, &st) != 0)
        die("open %s: %s", path, strerror(errno));
    in->size = (size_t)st.st_size;
    if (in->size < 8 + READ_SIZE)
        die("%s: too small to measure", path);
    in->map = mmap(NULL, in->size, PROT_READ, MAP_SHARED | MAP_POPULATE, in->fd, 0);
    if (in->map == MAP_FAILED)
        die("mmap %s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Entropy bounds of the BF16 tensors, from the file alone             */
/* ------------------------------------------------------------------ */

typedef struct {
    uint64_t tensors, elements;
    double exp_bits;   /* sum over tensors of n*H(exponent) + 8n */
    double exp1_bits;  /* n*H(exponent, top mantissa bit) + 7n */
    double v16_bits;   /* n*H(16-bit value) */
} bf16_bounds;

static double entropy_bits(const uint64_t *h, size_t bins, uint64_t n)
{
    double bits = 0;
    for (size_t k = 0; k < bins; k++)
        if (h[k])
            bits -= (double)h[k] * log2((double)h[k] / (double)n);
    return bits;
}

static void tensor_bounds(const uint8_t *p, uint64_t n, bf16_bounds *b, uint64_t *h16)
{
    uint64_t he[256] = {0}, he1[512] = {0};
    memset(h16, 0, 65536 * sizeof *h16);
    for (uint64_t i = 0; i < n; i++)
        h16[(uint16_t)(p[2 * i] | p[2 * i + 1] << 8)]++;
    for (uint32_t v = 0; v < 65536; v++) {
        he[(v >> 7) & 0xFF] += h16[v];
        he1[(v >> 6) & 0x1FF] += h16[v];
    }
    b->tensors++;
    b->elements += n;
    b->exp_bits += entropy_bits(he, 256, n) + 8.0 * (double)n;
    b->exp1_bits += entropy_bits(he1, 512, n) + 7.0 * (double)n;
    b->v16_bits += entropy_bits(h16, 65536, n);
}

/* Returns 0 when the file has a safetensors header it could read. */
static int compute_bounds(const input *in, bf16_bounds *b)
{
    memset(b, 0, sizeof *b);
    uint64_t hlen = 0;
    for (int k = 0; k < 8; k++)
        hlen |= (uint64_t)in->map[k] << (8 * k);
    if (hlen > in->size - 8)
        return -1;
    cJSON *root = cJSON_ParseWithLength((const char *)in->map + 8, (size_t)hlen);
    if (!root)
        return -1;
    uint64_t *h16 = xmalloc(65536 * sizeof *h16);
    uint64_t data = 8 + hlen;
    for (cJSON *t = root->child; t; t = t->next) {
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "BF16") || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2)
            continue;
        double a = cJSON_GetArrayItem(of, 0)->valuedouble;
        double e = cJSON_GetArrayItem(of, 1)->valuedouble;
        if (a < 0 || e < a || data + (uint64_t)e > in->size || ((uint64_t)(e - a)) % 2)
            continue;
        if (e > a)
            tensor_bounds(in->map + data + (uint64_t)a, (uint64_t)(e - a) / 2, b, h16);
    }
    free(h16);
    cJSON_Delete(root);
    return 0;
}

/* ------------------------------------------------------------------ */
/* zstd baselines: chunked exactly like df11 (same chunk size, one      */
/* frame per chunk, read back with pread) and one whole-file frame.    */
/* Both carry zstd's content checksum, as df11 chunks carry XXH3.      */
/* ------------------------------------------------------------------ */

typedef struct {
    const input *in;
    int level;
    size_t csize;         /* decoded bytes per chunk */
    uint32_t n;
    uint8_t **frame;      /* compression output, one buffer per chunk */
    size_t *flen;
    uint64_t *foff;       /* offsets in the file */
    uint64_t stored;      /* frames + an 8-byte offset per chunk */
    char path[PATH_MAX];
    int fd;
    ZSTD_CCtx *cctx[MAX_THREADS];
    ZSTD_DCtx *dctx[MAX_THREADS];
    uint8_t *rbuf[MAX_THREADS];
    uint8_t *dbuf[MAX_THREADS]; /* whole chunk, for partial reads */
    uint8_t *out;               /* decode target (original size) */
} zchunked;

static ZSTD_CCtx *new_cctx(int level)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c || ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)))
        die("zstd context setup failed");
    return c;
}

static int zc_compress_one(void *ctx, uint32_t i, int tid)
{
    zchunked *z = ctx;
    size_t off = (size_t)i * z->csize;
    size_t len = z->in->size - off < z->csize ? z->in->size - off : z->csize;
    size_t r = ZSTD_compress2(z->cctx[tid], z->frame[i], ZSTD_compressBound(z->csize),
                              z->in->map + off, len);
    if (ZSTD_isError(r))
        return -1;
    z->flen[i] = r;
    return 0;
}

static void zc_init(zchunked *z, const input *in, int level, size_t csize, const char *dir,
                    int threads)
{
    memset(z, 0, sizeof *z);
    z->in = in;
    z->level = level;
    z->csize = csize;
    z->n = (uint32_t)((in->size + csize - 1) / csize);
    z->frame = xmalloc(z->n * sizeof *z->frame);
    z->flen = xmalloc(z->n * sizeof *z->flen);
    z->foff = xmalloc(z->n * sizeof *z->foff);
    for (uint32_t i = 0; i < z->n; i++)
        z->frame[i] = xmalloc(ZSTD_compressBound(csize));
    for (int t = 0; t < threads; t++) {
        z->cctx[t] = new_cctx(level);
        z->dctx[t] = ZSTD_createDCtx();
        z->rbuf[t] = xmalloc(ZSTD_compressBound(csize));
        z->dbuf[t] = xmalloc(csize);
        if (!z->dctx[t])
            die("zstd context setup failed");
    }
    snprintf(z->path, sizeof z->path, "%s/codec_bench.%ld.zc%d", dir, (long)getpid(), level);
}

/* One compression of the whole input, written to z->path; seconds. */
static double zc_compress(zchunked *z, int threads)
{
    double t0 = now();
    if (par_run(zc_compress_one, z, z->n, threads) < 0)
        die("zstd -%d compression failed", z->level);
    int fd = open(z->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die("create %s: %s", z->path, strerror(errno));
    uint64_t off = 0;
    for (uint32_t i = 0; i < z->n; i++) {
        z->foff[i] = off;
        write_all(fd, z->frame[i], z->flen[i], off, z->path);
        off += z->flen[i];
    }
    close(fd);
    double dt = now() - t0;
    z->stored = off + 8ULL * z->n;
    return dt;
}

static void zc_open(zchunked *z)
{
    z->fd = open(z->path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0)
        die("open %s: %s", z->path, strerror(errno));
}

static int zc_decode_one(void *ctx, uint32_t i, int tid)
{
    zchunked *z = ctx;
    size_t off = (size_t)i * z->csize;
    size_t len = z->in->size - off < z->csize ? z->in->size - off : z->csize;
    if (read_all(z->fd, z->rbuf[tid], z->flen[i], z->foff[i]))
        return -1;
    size_t r = ZSTD_decompressDCtx(z->dctx[tid], z->out + off, len, z->rbuf[tid], z->flen[i]);
    return ZSTD_isError(r) || r != len ? -1 : 0;
}

/* A random read the way a chunked store serves it: decode every chunk the
 * range touches, copy the wanted bytes. */
static int zc_pread(zchunked *z, uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        uint32_t i = (uint32_t)(off / z->csize);
        uint64_t base = (uint64_t)i * z->csize;
        size_t clen = z->in->size - base < z->csize ? z->in->size - base : z->csize;
        if (read_all(z->fd, z->rbuf[0], z->flen[i], z->foff[i]))
            return -1;
        size_t r = ZSTD_decompressDCtx(z->dctx[0], z->dbuf[0], clen, z->rbuf[0], z->flen[i]);
        if (ZSTD_isError(r) || r != clen)
            return -1;
        size_t take = clen - (size_t)(off - base);
        if (take > len)
            take = len;
        memcpy(buf, z->dbuf[0] + (off - base), take);
        buf += take;
        len -= take;
        off += take;
    }
    return 0;
}

typedef struct {
    const input *in;
    int level;
    uint8_t *frame;
    size_t flen;
    double compress_s;
    ZSTD_DCtx *dctx;
    uint8_t *out;
} zwhole;

static void zw_build(zwhole *w, const input *in, int level)
{
    memset(w, 0, sizeof *w);
    w->in = in;
    w->level = level;
    size_t bound = ZSTD_compressBound(in->size);
    w->frame = xmalloc(bound);
    ZSTD_CCtx *c = new_cctx(level);
    double t0 = now();
    w->flen = ZSTD_compress2(c, w->frame, bound, in->map, in->size);
    w->compress_s = now() - t0;
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(w->flen))
        die("zstd whole-file compression: %s", ZSTD_getErrorName(w->flen));
    w->dctx = ZSTD_createDCtx();
    if (!w->dctx)
        die("zstd context setup failed");
}

static int zw_decode(void *ctx, uint32_t i, int tid)
{
    zwhole *w = ctx;
    (void)i;
    (void)tid;
    size_t r = ZSTD_decompressDCtx(w->dctx, w->out, w->in->size, w->frame, w->flen);
    return ZSTD_isError(r) || r != w->in->size ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* df11 and memcpy passes over df11's own chunk geometry               */
/* ------------------------------------------------------------------ */

typedef struct {
    df11_reader *r;
    const input *in;
    uint32_t n;
    uint64_t *off;
    uint32_t *len;
    uint8_t *out;
    df11_error err;
    atomic_int err_set;
} df11_pass;

static int df11_decode_one(void *ctx, uint32_t i, int tid)
{
    df11_pass *p = ctx;
    df11_error e;
    (void)tid;
    if (df11_decode_chunk(p->r, i, p->out + p->off[i], &e) == DF11_OK)
        return 0;
    if (!atomic_exchange(&p->err_set, 1))
        p->err = e;
    return -1;
}

static int memcpy_one(void *ctx, uint32_t i, int tid)
{
    df11_pass *p = ctx;
    (void)tid;
    memcpy(p->out + p->off[i], p->in->map + p->off[i], p->len[i]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The benchmark                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *file, *dir;
    int runs, enc_runs, samples;
    int levels[MAX_LEVELS], nlevels;
    int threads[8], nthreads;
} options;

typedef struct {
    const char *name;
    item_fn fn;
    void *ctx;
    uint32_t n;
    int single; /* one frame: one thread only */
} decoder;

static void parse_list(const char *s, int *v, int *n, int max, int lo, int hi, const char *what)
{
    char *end;
    *n = 0;
    while (*s) {
        long x = strtol(s, &end, 10);
        if (end == s || x < lo || x > hi || *n == max || (*end && *end != ','))
            die("bad %s list '%s'", what, s);
        v[(*n)++] = (int)x;
        s = *end ? end + 1 : end;
    }
    if (!*n)
        die("empty %s list", what);
}

static void usage(void)
{
    fputs("Usage: codec_bench [-r RUNS] [-e ENC_RUNS] [-z LEVELS] [-t THREADS]\n"
          "                   [-k SAMPLES] [-w WORKDIR] FILE.safetensors\n"
          "  -r  timed decode passes per decoder and thread count (default 7)\n"
          "  -e  timed compressions per thread count (default 3; 0: compress once,\n"
          "      untimed, to measure the rest)\n"
          "  -z  zstd levels for the baselines, comma-separated (default 3,19)\n"
          "  -t  thread counts, comma-separated (default 1,2)\n"
          "  -k  random 4 KiB reads per reader (default 2000)\n"
          "  -w  folder for the temporary compressed files (default $TMPDIR or /tmp)\n",
          stderr);
    exit(2);
}

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->runs = 7;
    o->enc_runs = 3;
    o->samples = 2000;
    o->dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    parse_list("3,19", o->levels, &o->nlevels, MAX_LEVELS, 1, 22, "level");
    parse_list("1,2", o->threads, &o->nthreads, 8, 1, MAX_THREADS, "thread");
    int c;
    while ((c = getopt(argc, argv, "r:e:z:t:k:w:h")) != -1) {
        switch (c) {
        case 'r': o->runs = atoi(optarg); break;
        case 'e': o->enc_runs = atoi(optarg); break;
        case 'k': o->samples = atoi(optarg); break;
        case 'w': o->dir = optarg; break;
        case 'z': parse_list(optarg, o->levels, &o->nlevels, MAX_LEVELS, 1, 22, "level"); break;
        case 't': parse_list(optarg, o->threads, &o->nthreads, 8, 1, MAX_THREADS, "thread"); break;
        default: usage();
        }
    }
    if (optind != argc - 1 || o->runs < 1 || o->runs > 1000 || o->enc_runs < 0 ||
        o->enc_runs > 100 || o->samples < 10 || o->samples > 10000000)
        usage();
    o->file = argv[optind];
}

static int max_threads(const options *o)
{
    int m = 1;
    for (int i = 0; i < o->nthreads; i++)
        m = o->threads[i] > m ? o->threads[i] : m;
    return m;
}

/* Compression: df11_encode_file and chunked zstd at the first level, each
 * thread count, runs interleaved. Leaves the df11 file at df11_path. */
static void bench_encode(const options *o, const input *in, const char *df11_path,
                         zchunked *zc_first)
{
    printf("\n== compression: MB/s of input (1 MB = 1e6 B) and MB per CPU-second, "
           "median of %d ==\n", o->enc_runs);
    char zname[32];
    snprintf(zname, sizeof zname, "zstd -%d chunks", zc_first->level);
    printf("%-8s %10s %10s %16s %10s %10s\n", "threads", "df11", "per CPU-s", zname,
           "per CPU-s", "df11/zstd");
    for (int ti = 0; ti < o->nthreads; ti++) {
        int T = o->threads[ti];
        double td[100], tz[100], cd[100], cz[100];
        for (int k = 0; k < o->enc_runs; k++) {
            df11_encode_options eo;
            df11_encode_options_default(&eo);
            eo.threads = T;
            df11_error err;
            double c0 = cpu_now(), t0 = now();
            if (df11_encode_file(in->path, df11_path, &eo, &err) != DF11_OK)
                die("df11_encode_file: %s", err.message);
            td[k] = now() - t0;
            cd[k] = cpu_now() - c0;
            c0 = cpu_now();
            tz[k] = zc_compress(zc_first, T);
            cz[k] = cpu_now() - c0;
        }
        double S = (double)in->size / 1e6;
        double md = S / median(td, o->enc_runs), mz = S / median(tz, o->enc_runs);
        double pd = S / median(cd, o->enc_runs), pz = S / median(cz, o->enc_runs);
        printf("%-8d %10.1f %10.1f %16.1f %10.1f %10.2f\n", T, md, pd, mz, pz, md / mz);
        result("encode_mbps_t%d %.1f\nencode_mb_per_cpus_t%d %.1f\n", T, md, T, pd);
        result("zstd%d_chunk_encode_mbps_t%d %.1f\nzstd%d_chunk_encode_mb_per_cpus_t%d %.1f\n",
               zc_first->level, T, mz, zc_first->level, T, pz);
    }
}

static void print_ratio(const input *in, df11_reader *r, zchunked *zc, zwhole *zw, int nl)
{
    size_t nt = 0;
    df11_error err;
    uint64_t bf_elems = 0, bf_stored = 0;
    if (df11_tensor_count(r, &nt, &err) == DF11_OK) {
        for (size_t i = 0; i < nt; i++) {
            df11_tensor t;
            if (df11_tensor_get(r, i, &t, &err) == DF11_OK && !strcmp(t.dtype, "BF16")) {
                bf_elems += t.elements;
                bf_stored += t.stored_bytes;
            }
        }
    }
    double S = (double)in->size, stored = (double)df11_stored_size(r);
    uint64_t ovh = df11_overhead_bytes(r);
    bf16_bounds b;
    int have_bounds = compute_bounds(in, &b) == 0 && b.elements > 0;

    printf("\n== ratio ==\n");
    printf("file %s: %zu bytes, %zu tensors, %llu BF16 weights\n", in->path, in->size, nt,
           (unsigned long long)bf_elems);
    printf("%-34s %14s %9s %14s\n", "", "bytes", "% file", "bits/BF16 w");
    printf("%-34s %14.0f %8.2f%%\n", "original", S, 100.0);
    double bpw_all = bf_elems ? 8.0 * stored / (double)bf_elems : 0;
    printf("%-34s %14.0f %8.3f%% %14.3f\n", "df11 (whole file)", stored, 100.0 * stored / S, bpw_all);
    result("df11_ratio_pct %.3f\n", 100.0 * stored / S);
    for (int l = 0; l < nl; l++) {
        char name[64];
        snprintf(name, sizeof name, "zstd -%d, 256 KiB frames", zc[l].level);
        printf("%-34s %14llu %8.3f%%\n", name, (unsigned long long)zc[l].stored,
               100.0 * (double)zc[l].stored / S);
        snprintf(name, sizeof name, "zstd -%d, whole file", zw[l].level);
        printf("%-34s %14zu %8.3f%%\n", name, zw[l].flen, 100.0 * (double)zw[l].flen / S);
        result("zstd%d_chunk_ratio_pct %.3f\nzstd%d_whole_ratio_pct %.3f\n", zc[l].level,
               100.0 * (double)zc[l].stored / S, zw[l].level, 100.0 * (double)zw[l].flen / S);
    }
    if (!bf_elems)
        return;
    double E = (double)bf_elems;
    printf("\nBF16 tensors only (%% of their %llu BF16 bytes):\n", (unsigned long long)(2 * bf_elems));
    printf("%-52s %9s %9s\n", "", "bits/w", "% BF16");
    printf("%-52s %9.3f %8.3f%%\n", "df11 payload of BF16 tensors (incl. lane lengths)",
           8.0 * (double)bf_stored / E, 100.0 * (double)bf_stored / (2 * E));
    printf("%-52s %9.4f   (%llu bytes)\n", "df11 overhead: headers, tables, lane lengths",
           8.0 * (double)ovh / E, (unsigned long long)ovh);
    result("df11_bf16_bits_per_weight %.4f\ndf11_bf16_pct %.3f\n", 8.0 * (double)bf_stored / E,
           100.0 * (double)bf_stored / (2 * E));
    result("overhead_bytes %llu\noverhead_bits_per_weight %.5f\n", (unsigned long long)ovh,
           8.0 * (double)ovh / E);
    if (have_bounds) {
        printf("bounds computed here from the file's BF16 tensors (%llu tensors):\n",
               (unsigned long long)b.tensors);
        printf("%-52s %9.3f %8.3f%%\n", "  order-0 exponent entropy per tensor + 8 raw bits",
               b.exp_bits / E, 100.0 * b.exp_bits / (16 * E));
        printf("%-52s %9.3f %8.3f%%\n", "  (exponent, top mantissa bit) entropy + 7 raw bits",
               b.exp1_bits / E, 100.0 * b.exp1_bits / (16 * E));
        printf("%-52s %9.3f %8.3f%%\n", "  order-0 entropy of the 16-bit value per tensor",
               b.v16_bits / E, 100.0 * b.v16_bits / (16 * E));
        result("bound_exp_bits %.3f\nbound_exp_pct %.3f\nbound_v16_pct %.3f\n", b.exp_bits / E,
               100.0 * b.exp_bits / (16 * E), 100.0 * b.v16_bits / (16 * E));
    }
}

/* Decode throughput: every decoder on every thread count, interleaved. */
static void bench_decode(const options *o, const input *in, decoder *d, int nd, uint8_t *out)
{
    /* Warm-up pass, and proof that each decoder reproduces the original. */
    for (int k = 0; k < nd; k++) {
        memset(out, 0xA5, in->size);
        if (par_run(d[k].fn, d[k].ctx, d[k].n, 1) < 0)
            die("%s: decode failed", d[k].name);
        if (memcmp(out, in->map, in->size))
            die("%s: decoded bytes differ from the original", d[k].name);
    }
    printf("\n== CPU decode: GB/s of output (1 GB = 1e9 B), median of %d, warm page cache ==\n",
           o->runs);
    printf("%-8s", "threads");
    for (int k = 0; k < nd; k++)
        printf(" %13s", d[k].name);
    printf("\n");
    double gbs1[16] = {0};
    for (int ti = 0; ti < o->nthreads; ti++) {
        int T = o->threads[ti];
        double *t = xmalloc((size_t)nd * (size_t)o->runs * sizeof *t);
        for (int run = 0; run < o->runs; run++)
            for (int k = 0; k < nd; k++) {
                if (d[k].single && T > 1)
                    continue;
                double s = par_run(d[k].fn, d[k].ctx, d[k].n, T);
                if (s < 0)
                    die("%s: decode failed", d[k].name);
                t[k * o->runs + run] = s;
            }
        double gbs[16];
        printf("%-8d", T);
        for (int k = 0; k < nd; k++) {
            if (d[k].single && T > 1) {
                printf(" %13s", "(1 frame)");
                continue;
            }
            gbs[k] = (double)in->size / median(&t[k * o->runs], o->runs) / 1e9;
            if (ti == 0)
                gbs1[k] = gbs[k];
            printf(" %13.3f", gbs[k]);
        }
        printf("\n%-8s %13s", "", "df11/x:");
        for (int k = 1; k < nd; k++) {
            if (d[k].single && T > 1)
                printf(" %13s", "");
            else
                printf(" %13.3f", gbs[0] / gbs[k]);
        }
        printf("\n");
        /* The spread shows whether another process cut into the runs. */
        double lo = t[0], hi = t[0];
        for (int run = 1; run < o->runs; run++) {
            lo = t[run] < lo ? t[run] : lo;
            hi = t[run] > hi ? t[run] : hi;
        }
        printf("%-8s df11 runs: %.3f .. %.3f GB/s\n", "", (double)in->size / hi / 1e9,
               (double)in->size / lo / 1e9);
        if (ti > 0)
            printf("%-8s %13.2fx scaling of df11 from %d thread(s)\n", "", gbs[0] / gbs1[0],
                   o->threads[0]);
        for (int k = 0; k < nd; k++)
            if (!(d[k].single && T > 1))
                result("decode_gbps_%s_t%d %.3f\n", d[k].name, T, gbs[k]);
        free(t);
    }
    /* The interleaved passes all wrote the same bytes; check they still do. */
    if (memcmp(out, in->map, in->size))
        die("decoded bytes differ from the original after the timed passes");
}

/* Random 4 KiB reads, single thread: df11_pread vs pread(2) of the original
 * and a zstd chunk decode, same offsets, interleaved sample by sample. */
static void bench_pread(const options *o, const input *in, df11_reader *r, zchunked *zc)
{
    int K = o->samples;
    double *lat[3];
    for (int k = 0; k < 3; k++)
        lat[k] = xmalloc((size_t)K * sizeof(double));
    uint8_t buf[READ_SIZE];
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < K; i++) {
        uint64_t off = rng_next(&seed) % (in->size - READ_SIZE + 1);
        df11_error err;
        double t0 = now();
        if (df11_pread(r, buf, READ_SIZE, off, &err) != DF11_OK)
            die("df11_pread: %s", err.message);
        lat[0][i] = now() - t0;
        if (memcmp(buf, in->map + off, READ_SIZE))
            die("df11_pread returned wrong bytes");
        t0 = now();
        if (read_all(in->fd, buf, READ_SIZE, off))
            die("pread %s failed", in->path);
        lat[1][i] = now() - t0;
        t0 = now();
        if (zc_pread(zc, buf, READ_SIZE, off))
            die("zstd chunk read failed");
        lat[2][i] = now() - t0;
        if (memcmp(buf, in->map + off, READ_SIZE))
            die("zstd chunk read returned wrong bytes");
    }
    char zname[32];
    snprintf(zname, sizeof zname, "zstd -%d chunk", zc->level);
    const char *names[3] = {"df11_pread", "pread original", zname};
    printf("\n== random 4 KiB reads, 1 thread, %d offsets (microseconds) ==\n", K);
    printf("%-16s %10s %10s %10s\n", "", "p50", "p99", "mean");
    double p50[3], p99[3];
    for (int k = 0; k < 3; k++) {
        double sum = 0;
        for (int i = 0; i < K; i++)
            sum += lat[k][i];
        qsort(lat[k], (size_t)K, sizeof(double), cmp_double);
        p50[k] = 1e6 * percentile(lat[k], K, 0.50);
        p99[k] = 1e6 * percentile(lat[k], K, 0.99);
        printf("%-16s %10.1f %10.1f %10.1f\n", names[k], p50[k], p99[k], 1e6 * sum / K);
        free(lat[k]);
    }
    printf("df11_pread p50 is %.2fx the zstd chunk read's\n", p50[0] / p50[2]);
    result("pread_p50_us %.1f\npread_p99_us %.1f\nzstd_pread_p50_us %.1f\n"
           "zstd_pread_p99_us %.1f\nraw_pread_p50_us %.1f\n",
           p50[0], p99[0], p50[2], p99[2], p50[1]);
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    int TM = max_threads(&o);
    input in;
    input_open(&in, o.file);

    char df11_path[PATH_MAX];
    snprintf(df11_path, sizeof df11_path, "%s/codec_bench.%ld.df11", o.dir, (long)getpid());
    printf("codec_bench: %s (%zu bytes), libdf11 %s, zstd %s\n", o.file, in.size, df11_version(),
           ZSTD_versionString());

    /* Baseline compressors; the first level's chunked form is also timed. */
    zchunked zc[MAX_LEVELS];
    zwhole zw[MAX_LEVELS];
    size_t chunk = 1u << 18; /* df11's default; checked against the file below */
    for (int l = 0; l < o.nlevels; l++)
        zc_init(&zc[l], &in, o.levels[l], chunk, o.dir, TM);
    if (o.enc_runs > 0) {
        bench_encode(&o, &in, df11_path, &zc[0]);
    } else {
        df11_error e0;
        if (df11_encode_file(in.path, df11_path, NULL, &e0) != DF11_OK)
            die("df11_encode_file: %s", e0.message);
        zc_compress(&zc[0], TM);
    }
    for (int l = 1; l < o.nlevels; l++) {
        double s = zc_compress(&zc[l], TM);
        printf("(zstd -%d, 256 KiB frames: one compression, %d threads, %.1f MB/s)\n", zc[l].level,
               TM, (double)in.size / s / 1e6);
    }
    for (int l = 0; l < o.nlevels; l++) {
        zw_build(&zw[l], &in, o.levels[l]);
        printf("(zstd -%d, whole file: one compression, 1 thread, %.1f MB/s)\n", zw[l].level,
               (double)in.size / zw[l].compress_s / 1e6);
    }

    df11_reader *r;
    df11_error err;
    if (df11_open(df11_path, &r, &err) != DF11_OK)
        die("df11_open: %s", err.message);
    if (df11_chunk_size_max(r) != chunk)
        fprintf(stderr, "codec_bench: note: df11 chunks are %u bytes, zstd frames %zu\n",
                df11_chunk_size_max(r), chunk);
    print_ratio(&in, r, zc, zw, o.nlevels);

    /* Decode targets: one buffer of the original size, touched up front. */
    uint8_t *out = xmalloc(in.size);
    memset(out, 0, in.size);
    df11_pass dp = {.r = r, .in = &in, .n = df11_chunk_count(r), .out = out};
    dp.off = xmalloc(dp.n * sizeof *dp.off);
    dp.len = xmalloc(dp.n * sizeof *dp.len);
    for (uint32_t i = 0; i < dp.n; i++)
        df11_chunk_extent(r, i, &dp.off[i], &dp.len[i]);
    atomic_init(&dp.err_set, 0);

    decoder d[2 + 2 * MAX_LEVELS];
    char names[2 * MAX_LEVELS][16];
    int nd = 0;
    d[nd++] = (decoder){"df11", df11_decode_one, &dp, dp.n, 0};
    d[nd++] = (decoder){"memcpy", memcpy_one, &dp, dp.n, 0};
    for (int l = 0; l < o.nlevels; l++) {
        zc_open(&zc[l]);
        zc[l].out = out;
        zw[l].out = out;
        snprintf(names[2 * l], 16, "zstd%d_chunk", zc[l].level);
        snprintf(names[2 * l + 1], 16, "zstd%d_whole", zw[l].level);
        d[nd++] = (decoder){names[2 * l], zc_decode_one, &zc[l], zc[l].n, 0};
        d[nd++] = (decoder){names[2 * l + 1], zw_decode, &zw[l], 1, 1};
    }
    bench_decode(&o, &in, d, nd, out);
    bench_pread(&o, &in, r, &zc[0]);

    print_results();
    df11_close(r);
    unlink(df11_path);
    for (int l = 0; l < o.nlevels; l++) {
        close(zc[l].fd);
        unlink(zc[l].path);
    }
    return 0;
}
