/* decode_tables: the process-wide decode-table cache stays within its byte
 * budget (plus one pinned table per decoding thread) while many threads
 * decode a file with thousands of distinct Huffman codes, shares tables
 * between readers, and survives a low address-space limit by evicting
 * (issue "harden" #7). */
#include "codec_util.h"
#include "decompress/reader.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Each tensor one 64 KiB chunk (chunk_log2 16): the encoder gives every
 * tensor of at least a chunk its own segment and code whatever the tensor
 * count, while smaller ones may share a segment (codec/compress/plan.c).
 * 400 codes want ~13 MB of tables, 13x the budget below. */
#define TENSORS 400
#define ELEMS 32768
#define CHUNK_LOG2 16
#define THREADS 4
#define BUDGET (1ull << 20)

static const uint8_t *orig;
static size_t orig_size;
static const char *df11_path_g;
static uint64_t max_seen;
static pthread_mutex_t max_lock = PTHREAD_MUTEX_INITIALIZER;

/* Exponents drawn from a per-tensor random mix of 16 values with random
 * weights: almost every tensor gets a code of its own. */
static void fill_tensor(tu_rng *g, uint8_t *dst)
{
    uint8_t ex[16];
    uint32_t w[16], total = 0;
    for (int k = 0; k < 16; k++) {
        ex[k] = (uint8_t)(100 + tu_below(g, 40));
        w[k] = 1 + (uint32_t)tu_below(g, 1u << tu_below(g, 10));
        total += w[k];
    }
    for (uint32_t i = 0; i < ELEMS; i++) {
        uint32_t pick = (uint32_t)tu_below(g, total), k = 0;
        while (pick >= w[k]) pick -= w[k++];
        uint16_t v = (uint16_t)(((uint32_t)tu_below(g, 2) << 15) | (uint32_t)ex[k] << 7 | (uint32_t)tu_below(g, 128));
        dst[2 * i] = (uint8_t)v;
        dst[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void note_bytes(void)
{
    uint64_t b = df11_table_bytes();
    pthread_mutex_lock(&max_lock);
    if (b > max_seen) max_seen = b;
    pthread_mutex_unlock(&max_lock);
}

typedef struct {
    df11_reader *r;
    unsigned id;
    int bad;
    df11_error err;
} job;

/* Each thread reads every chunk, starting at a different place and
 * striding differently, so the threads want different tables at once. */
static void *decode_all_chunks(void *p)
{
    job *j = p;
    uint32_t n = df11_chunk_count(j->r);
    uint8_t *buf = malloc(df11_chunk_size_max(j->r));
    if (!buf) {
        j->bad = 1;
        return NULL;
    }
    uint32_t step = 1 + 2 * j->id; /* a stride coprime with n visits every chunk */
    while (gcd(step, n) != 1) step++;
    for (uint32_t k = 0, i = (j->id * 977u) % n; k < n; k++, i = (i + step) % n) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(j->r, i, &off, &len);
        if (df11_decode_chunk(j->r, i, buf, &j->err) != DF11_OK || memcmp(buf, orig + off, len) != 0) {
            j->bad++;
            break;
        }
        note_bytes();
    }
    free(buf);
    return NULL;
}

static unsigned distinct_codes(df11_reader *r)
{
    uint64_t *h = malloc(r->segment_count * sizeof *h);
    unsigned n = 0;
    for (uint32_t s = 0; h && s < r->segment_count; s++) {
        if (r->segments[s].kind == DF11_SEG_BYTES) continue;
        bool dup = false;
        for (unsigned k = 0; k < n && !dup; k++) dup = h[k] == r->segments[s].code_hash;
        if (!dup) h[n++] = r->segments[s].code_hash;
    }
    free(h);
    return n;
}

static void threads_within_budget(df11_reader *r)
{
    df11_set_table_budget(BUDGET);
    job jobs[THREADS] = {0};
    pthread_t t[THREADS];
    int bad = 0;
    for (unsigned i = 0; i < THREADS && !bad; i++) {
        jobs[i] = (job){ .r = r, .id = i };
        pthread_create(&t[i], NULL, decode_all_chunks, &jobs[i]);
    }
    for (unsigned i = 0; i < THREADS && !bad; i++) pthread_join(t[i], NULL);
    for (unsigned i = 0; i < THREADS; i++) bad += jobs[i].bad;
    uint64_t limit = BUDGET + THREADS * df11_table_entry_bytes();
    tu_result(!bad, "decode_tables.threads_bytes_equal", "%d threads failed (%s)", bad, jobs[0].err.message);
    tu_result(max_seen <= limit && max_seen > BUDGET / 2, "decode_tables.within_budget",
              "max %llu bytes, limit %llu", (unsigned long long)max_seen, (unsigned long long)limit);
    df11_set_table_budget(0);
    tu_result(df11_table_bytes() == 0, "decode_tables.budget_zero_frees_all", "%llu bytes left",
              (unsigned long long)df11_table_bytes());
}

/* Two readers of one file build each table once. */
static void shared_between_readers(void)
{
    df11_set_table_budget(DF11_TABLE_BUDGET_DEFAULT);
    df11_reader *a = NULL, *b = NULL;
    df11_error e;
    uint8_t *buf = malloc(1u << 20);
    bool ok = buf && df11_open(df11_path_g, &a, &e) == DF11_OK && df11_open(df11_path_g, &b, &e) == DF11_OK;
    uint32_t last = ok ? df11_chunk_count(a) - 1 : 0;
    ok = ok && df11_decode_chunk(a, last, buf, &e) == DF11_OK;
    uint64_t one = df11_table_bytes();
    ok = ok && df11_decode_chunk(b, last, buf, &e) == DF11_OK;
    tu_result(ok && one == df11_table_entry_bytes() && df11_table_bytes() == one,
              "decode_tables.shared_between_readers", "ok %d, %llu then %llu bytes", ok,
              (unsigned long long)one, (unsigned long long)df11_table_bytes());
    df11_close(a);
    df11_close(b);
    free(buf);
}

static uint64_t vm_bytes(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The file's codes want ~13 MB of tables; with the default 64 MiB budget
 * but only 8 MiB of address space to spare they cannot all be kept, so
 * allocations fail and must evict and retry. Runs in a fresh process (this
 * program re-executed) so no thread arena of the other checks has free
 * space for malloc to fall back on, and the limit dies with it. */
static int low_address_space_child(const char *df11, const char *original)
{
    size_t size = 0;
    uint8_t *want = tu_read_file(original, &size);
    df11_reader *r = NULL;
    df11_error e;
    if (!want || df11_open(df11, &r, &e) != DF11_OK) return 2;
    uint8_t *buf = malloc(df11_chunk_size_max(r));
    uint64_t lim = vm_bytes() + (8ull << 20);
    struct rlimit rl = { lim, lim };
    if (!buf || setrlimit(RLIMIT_AS, &rl) != 0) return 2;
    uint64_t peak = 0;
    for (uint32_t i = 0; i < df11_chunk_count(r); i++) {
        uint64_t off;
        uint32_t len;
        df11_chunk_extent(r, i, &off, &len);
        if (df11_decode_chunk(r, i, buf, &e) != DF11_OK) {
            fprintf(stderr, "chunk %u: %s\n", i, e.message);
            return 3;
        }
        if (memcmp(buf, want + off, len) != 0) return 4;
        if (df11_table_bytes() > peak) peak = df11_table_bytes();
    }
    fprintf(stderr, "peak table bytes %llu\n", (unsigned long long)peak);
    /* the limit must actually have bitten: the cache never held all codes */
    return peak < TENSORS * 9 / 10 * df11_table_entry_bytes() ? 0 : 5;
}

static void low_address_space(const char *df11, const char *original)
{
#ifdef __SANITIZE_ADDRESS__
    (void)df11;
    (void)original;
    printf("SKIP decode_tables.low_address_space ASan reserves terabytes of address space\n");
#else
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", "decode_tables", "--low-as", df11, original, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    tu_result(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "decode_tables.low_address_space",
              "child status %d (2 setup, 3 decode failed, 4 wrong bytes, 5 limit never reached)",
              WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
#endif
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--low-as") == 0) return low_address_space_child(argv[2], argv[3]);
    tu_rng g = { tu_seed("decode_tables") };
    char *dir = tu_tempdir();
    if (!dir) return 1;
    static char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/many.safetensors", dir);
    snprintf(out, sizeof out, "%s/many.df11", dir);
    uint8_t *data = malloc((size_t)TENSORS * ELEMS * 2);
    tu_tensor *t = calloc(TENSORS, sizeof *t);
    char (*names)[16] = calloc(TENSORS, 16);
    if (!data || !t || !names) return 1;
    for (int i = 0; i < TENSORS; i++) {
        fill_tensor(&g, data + (size_t)i * ELEMS * 2);
        snprintf(names[i], 16, "t%d", i);
        t[i] = (tu_tensor){ names[i], "BF16", ELEMS, data + (size_t)i * ELEMS * 2, ELEMS * 2 };
    }
    orig = tu_write_safetensors(in, t, TENSORS, &orig_size);
    df11_error e = {0};
    df11_reader *r = NULL;
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = CHUNK_LOG2;
    bool ok = orig && df11_encode_file(in, out, &o, &e) == DF11_OK && df11_open(out, &r, &e) == DF11_OK;
    tu_result(ok, "decode_tables.setup", "%s", e.message);
    if (!ok) return 1;
    df11_path_g = out;
    unsigned codes = distinct_codes(r);
    tu_result(codes >= TENSORS * 9 / 10, "decode_tables.distinct_codes", "only %u distinct codes", codes);
    threads_within_budget(r);
    shared_between_readers();
    low_address_space(out, in);
    df11_close(r);
    unlink(in);
    unlink(out);
    rmdir(dir);
    free(dir);
    free(data);
    free(t);
    free(names);
    free((void *)orig);
    return tu_failures ? 1 : 0;
}
