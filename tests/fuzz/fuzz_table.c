/*
 * fuzz_table: the first 128 bytes are a segment's 256 four-bit code lengths
 * (packed as in the file). df11_huff_check must agree with the spec's rule;
 * for a valid code, the canonical codes must match the oracle, the rest of
 * the input is turned into exponents that must survive encode + decode, and
 * is also decoded as a raw EXP payload, where df11_exp_decode must agree
 * with the bit-at-a-time oracle on both the verdict and the bytes.
 */
#include "../../codec/decompress/reader.h"
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>

#define FT_MAX_N 1024

static void ft_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_table: invariant broken: %s\n", what);
        abort();
    }
}

static void ft_roundtrip(const uint8_t len[256], const oracle_code *oc, const df11_huff_dtable *t,
                         const uint8_t *d, size_t n)
{
    uint8_t present[256];
    unsigned np = 0;
    for (unsigned s = 0; s < 256; s++)
        if (len[s]) present[np++] = (uint8_t)s;
    unsigned width = n && (d[0] & 1) ? 4 : 2;
    uint32_t L = n && (d[0] & 2) ? 256 : 2048;
    uint32_t count = n > FT_MAX_N ? FT_MAX_N : (uint32_t)n;
    uint8_t *src = malloc((size_t)count * width + 1);
    size_t cap = 2 * ((size_t)count / L + 1) + (size_t)count * 12 / 8 + (size_t)count * (width - 1) + 64;
    uint8_t *out = malloc(cap), *want = calloc(1, cap), *dst = malloc((size_t)count * width + 1);
    uint8_t *scratch = malloc(df11_exp_scratch_size(count, L));
    if (src && out && want && dst && scratch) {
        for (uint32_t i = 0; i < count; i++) {
            uint8_t e = present[d[i] % np], b = d[(i * 7 + 3) % n];
            uint16_t v = (uint16_t)((b & 0x80) << 8 | e << 7 | (b & 0x7F));
            uint8_t *q = src + (size_t)i * width;
            if (width == 4) q[0] = b, q[1] = (uint8_t)~b, q += 2;
            q[0] = (uint8_t)v, q[1] = (uint8_t)(v >> 8);
        }
        size_t plen = df11_exp_encode(src, count, width, L, len, oc->code, out, cap);
        size_t wlen = oracle_encode(src, count, width, L, len, want);
        ft_require(plen == wlen && memcmp(out, want, plen) == 0, "encoder matches the oracle");
        uint8_t *p = malloc(plen + DF11_PAYLOAD_SLACK);
        if (p) {
            memcpy(p, out, plen);
            memset(p + plen, 0xFF, DF11_PAYLOAD_SLACK);
            char why[128];
            df11_status s = df11_exp_decode(p, (uint32_t)plen, count, width, L, t, dst, scratch, why, sizeof why);
            ft_require(s == DF11_OK && memcmp(dst, src, (size_t)count * width) == 0, "round trip");
            free(p);
        }
    }
    free(src);
    free(out);
    free(want);
    free(dst);
    free(scratch);
}

/* The input itself as an EXP payload: d[0..1] give n, the rest is payload. */
static void ft_raw_payload(const oracle_code *oc, const df11_huff_dtable *t, const uint8_t *d, size_t n)
{
    if (n < 3) return;
    uint32_t count = (uint32_t)(d[0] | d[1] << 8) % (FT_MAX_N + 1);
    unsigned width = d[2] & 1 ? 4 : 2;
    uint32_t L = d[2] & 2 ? 256 : 2048;
    const uint8_t *pl = d + 3;
    size_t plen = n - 3;
    uint8_t *p = malloc(plen + DF11_PAYLOAD_SLACK), *dst = malloc((size_t)count * width + 1);
    uint8_t *odst = malloc((size_t)count * width + 1), *scratch = malloc(df11_exp_scratch_size(count, L));
    if (p && dst && odst && scratch) {
        if (plen) memcpy(p, pl, plen);
        memset(p + plen, 0, DF11_PAYLOAD_SLACK);
        char why[128];
        df11_status s = df11_exp_decode(p, (uint32_t)plen, count, width, L, t, dst, scratch, why, sizeof why);
        ft_require(s == DF11_OK || s == DF11_E_CORRUPT_CHUNK, "decode returns OK or CORRUPT_CHUNK");
        bool ok = oracle_decode(p, plen, count, width, L, oc, odst);
        ft_require(ok == (s == DF11_OK), "decoder and oracle agree on validity");
        if (ok) ft_require(memcmp(dst, odst, (size_t)count * width) == 0, "decoder and oracle agree on bytes");
    }
    free(p);
    free(dst);
    free(odst);
    free(scratch);
}

int fuzz_table(const uint8_t *d, size_t n)
{
    uint8_t packed[128] = {0}, len[256];
    memcpy(packed, d, n < 128 ? n : 128);
    for (int k = 0; k < 128; k++) {
        len[2 * k] = packed[k] & 0x0F;
        len[2 * k + 1] = packed[k] >> 4;
    }
    bool constant = false;
    df11_status s = df11_huff_check(len, &constant);
    int want = oracle_check(len);
    ft_require((s == DF11_OK) == (want >= 0), "huff_check agrees with the spec");
    ft_require(s == DF11_OK || s == DF11_E_BAD_TABLE, "huff_check status");
    if (s != DF11_OK) return 0;
    ft_require(constant == (want == 1), "constant flag");
    static oracle_code oc;
    static df11_huff_dtable t;
    oracle_code_init(&oc, len);
    uint16_t code[256];
    df11_huff_canonical(len, code);
    for (int sym = 0; sym < 256; sym++)
        ft_require(!len[sym] || code[sym] == oc.code[sym], "canonical codes match the oracle");
    df11_huff_build_dtable(len, &t);
    const uint8_t *rest = n > 128 ? d + 128 : d;
    size_t rn = n > 128 ? n - 128 : 0;
    if (rn) ft_roundtrip(len, &oc, &t, rest, rn);
    ft_raw_payload(&oc, &t, rest, rn);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_table(d, n); }
#endif
