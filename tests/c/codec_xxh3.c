/*
 * codec_xxh3: df11_xxh3_64, the chunk checksum through libxxhash's
 * run-time dispatch.
 *
 *  - equal: the same value as the baseline XXH3_64bits (the library's
 *    portable build: an independent code path) for sizes around XXH3's
 *    internal boundaries, at four alignments.
 *  - clean_upper: afterwards the AVX upper halves are in their initial
 *    state (XGETBV with ECX=1, the XINUSE bitmap, bits 2 and 6). Debian 12's
 *    libxxhash returns from its AVX2/AVX-512 loops with them dirty, and
 *    every legacy-SSE instruction after that merges into them: SHA-256
 *    (OpenSSL's SHA-NI code) ran 25% slower in every thread of a process
 *    that had checked one chunk. `dispatcher_dirties` shows the hazard is
 *    real on this CPU (else it is skipped, and clean_upper proves less).
 *  - clean_after_read: the same after df11_open and df11_pread of a file
 *    with BF16 and F32 tensors at the default level and at --max, whose
 *    decoders run AVX2/AVX-512 code of their own.
 */
#include "codec_util.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <xxh_x86dispatch.h>
#endif

#define UPPER_STATE ((1ull << 2) | (1ull << 6)) /* AVX (YMM_Hi128), ZMM_Hi256 */

#if defined(__x86_64__)
/* XINUSE is readable where the CPU has AVX, the OS enabled XSAVE, and
 * XGETBV takes ECX=1. */
static bool xinuse_readable(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)) || !(c & (1u << 28))) return false;
    if (__get_cpuid_max(0, NULL) < 0xd) return false;
    __cpuid_count(0xd, 1, a, b, c, d);
    return (a >> 2) & 1;
}

static inline uint64_t xinuse(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static void equal(tu_rng *g)
{
    static const size_t sizes[] = { 0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025,
                                    65536, 262144, 262151, 1048576 + 13 };
    uint8_t *buf = malloc(1048576 + 64);
    if (!buf) {
        tu_result(false, "codec_xxh3.equal", "out of memory");
        return;
    }
    for (size_t i = 0; i < 1048576 + 64; i++) buf[i] = (uint8_t)tu_next(g);
    int bad = 0;
    char first[128] = "";
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (size_t off = 0; off < 4; off++) {
            uint64_t want = XXH3_64bits(buf + off, sizes[k]), got = df11_xxh3_64(buf + off, sizes[k]);
            if (got != want && !bad++)
                snprintf(first, sizeof first, "size %zu offset %zu: %016llx, baseline %016llx", sizes[k], off,
                         (unsigned long long)got, (unsigned long long)want);
        }
    tu_result(bad == 0, "codec_xxh3.equal", "%d of %zu differ; first %s", bad, 4 * (sizeof sizes / sizeof *sizes),
              first);
    free(buf);
}

#if defined(__x86_64__)
static void registers(void)
{
    uint8_t *buf = calloc(1, 262144);
    if (!buf) return;
    volatile uint64_t sink = XXH3_64bits_dispatch(buf, 262144);
    uint64_t x = xinuse();
    if (x & UPPER_STATE) tu_result(true, "codec_xxh3.dispatcher_dirties", NULL);
    else printf("SKIP codec_xxh3.dispatcher_dirties XINUSE 0x%llx after XXH3_64bits_dispatch: this libxxhash or CPU leaves nothing dirty\n",
                (unsigned long long)x);
    sink = df11_xxh3_64(buf, 262144);
    x = xinuse();
    tu_result(!(x & UPPER_STATE), "codec_xxh3.clean_upper", "XINUSE 0x%llx after df11_xxh3_64", (unsigned long long)x);
    (void)sink;
    free(buf);
}

static void after_read(const char *name, const char *df11_path, const uint8_t *want, size_t want_n)
{
    df11_error e;
    df11_reader *r = NULL;
    uint8_t *out = NULL;
    bool ok = df11_open(df11_path, &r, &e) == DF11_OK;
    uint64_t after_open = xinuse();
    size_t n = ok ? (size_t)df11_original_size(r) : 0;
    ok = ok && (out = malloc(n ? n : 1)) && df11_pread(r, out, n, 0, &e) == DF11_OK;
    uint64_t after_pread = xinuse();
    if (ok && (n != want_n || memcmp(out, want, n) != 0)) {
        ok = false;
        snprintf(e.message, sizeof e.message, "df11_pread gave bytes other than the original's");
    }
    tu_result(ok && !(after_open & UPPER_STATE) && !(after_pread & UPPER_STATE), name,
              "%s: XINUSE 0x%llx after df11_open, 0x%llx after df11_pread", ok ? "read" : e.message,
              (unsigned long long)after_open, (unsigned long long)after_pread);
    free(out);
    df11_close(r);
}
#endif

int main(void)
{
    tu_rng g = { tu_seed("codec_xxh3") };
    equal(&g);
#if defined(__x86_64__)
    if (!xinuse_readable()) {
        printf("SKIP codec_xxh3.clean_upper no AVX, or XGETBV cannot read XINUSE\n");
        printf("SKIP codec_xxh3.clean_after_read no AVX, or XGETBV cannot read XINUSE\n");
        return tu_failures ? 1 : 0;
    }
    registers();
    char *dir = tu_tempdir(), in[4200], out[4200];
    if (!dir) return 1;
    snprintf(in, sizeof in, "%s/t.safetensors", dir);
    snprintf(out, sizeof out, "%s/t.df11", dir);
    size_t nb = 3 * 131072 + 777, nf = 70000;
    uint8_t *wb = malloc(2 * nb), *wf = malloc(4 * nf);
    tu_fill_bf16(&g, wb, nb, 0.02);
    tu_fill_f32(&g, wf, nf, 0.02);
    tu_tensor t[2] = { { "w", "BF16", nb, wb, 2 * nb }, { "f", "F32", nf, wf, 4 * nf } };
    size_t osize;
    uint8_t *orig = tu_write_safetensors(in, t, 2, &osize);
    for (int max = 0; max <= 1; max++) {
        df11_encode_options o;
        df11_encode_options_default(&o);
        if (max) o.level = DF11_LEVEL_MAX;
        o.threads = 1;
        df11_error e;
        const char *name = max ? "codec_xxh3.clean_after_read_max" : "codec_xxh3.clean_after_read_default";
        if (orig && df11_encode_file(in, out, &o, &e) == DF11_OK) after_read(name, out, orig, osize);
        else tu_result(false, name, "encode failed");
    }
    free(orig);
    free(wb);
    free(wf);
    unlink(in), unlink(out), rmdir(dir);
    free(dir);
#else
    printf("SKIP codec_xxh3.clean_upper not x86-64\n");
#endif
    return tu_failures ? 1 : 0;
}
