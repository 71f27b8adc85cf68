/*
 * fuzz_decode: a valid code built by df11_huff_lengths from a histogram in
 * the first bytes, then the rest of the input as an EXP payload. The payload
 * buffer has exactly DF11_PAYLOAD_SLACK bytes of slack and the outputs are
 * exactly n elements, so ASan catches any overrun. df11_exp_decode must
 * return OK or DF11_E_CORRUPT_CHUNK, and agree with the bit-at-a-time oracle.
 *
 * Layout: d[0] flags (bit 0 width 4, bits 1-2 lane size), d[1..2] n,
 * d[3..258] histogram counts (0 = symbol absent), then the payload.
 */
#include "../../codec/decompress/reader.h"
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>

#define FD_HEAD 259
#define FD_MAX_N 8192

static void fd_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_decode: invariant broken: %s\n", what);
        abort();
    }
}

int fuzz_decode(const uint8_t *d, size_t n)
{
    if (n < FD_HEAD) return 0;
    static const uint32_t lanes[4] = {256, 512, 2048, 4096};
    unsigned width = d[0] & 1 ? 4 : 2;
    uint32_t L = lanes[(d[0] >> 1) & 3];
    uint32_t count = (uint32_t)(d[1] | d[2] << 8) % (FD_MAX_N + 1);
    uint64_t freq[256];
    unsigned present = 0;
    for (int s = 0; s < 256; s++) present += (freq[s] = d[3 + s]) != 0;
    if (!present) freq[0] = 1;
    uint8_t len[256];
    df11_huff_lengths(freq, len);
    bool constant;
    fd_require(df11_huff_check(len, &constant) == DF11_OK && oracle_check(len) >= 0,
               "huff_lengths gives a valid code");
    for (int s = 0; s < 256; s++) fd_require((len[s] != 0) == (freq[s] != 0), "every counted symbol has a code");
    static df11_huff_dtable t;
    static oracle_code oc;
    df11_huff_build_dtable(len, &t);
    oracle_code_init(&oc, len);

    size_t plen = n - FD_HEAD;
    uint8_t *p = malloc(plen + DF11_PAYLOAD_SLACK);
    size_t out_len = (size_t)count * width;
    uint8_t *dst = malloc(out_len ? out_len : 1), *odst = malloc(out_len ? out_len : 1);
    uint8_t *scratch = malloc(df11_exp_scratch_size(count, L));
    if (p && dst && odst && scratch) {
        if (plen) memcpy(p, d + FD_HEAD, plen);
        memset(p + plen, 0xA5, DF11_PAYLOAD_SLACK);
        char why[160];
        df11_status s = df11_exp_decode(p, (uint32_t)plen, count, width, L, &t, dst, scratch, why, sizeof why);
        fd_require(s == DF11_OK || s == DF11_E_CORRUPT_CHUNK, "decode returns OK or CORRUPT_CHUNK");
        fd_require(s == DF11_OK || memchr(why, 0, sizeof why) != NULL, "reason is a string");
        bool ok = oracle_decode(p, plen, count, width, L, &oc, odst);
        fd_require(ok == (s == DF11_OK), "decoder and oracle agree on validity");
        if (ok) fd_require(memcmp(dst, odst, out_len) == 0, "decoder and oracle agree on bytes");
    }
    free(p);
    free(dst);
    free(odst);
    free(scratch);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_decode(d, n); }
#endif
