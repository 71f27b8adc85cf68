/*
 * fuzz_ans: the ANS chunk decoder (FORMAT.md 9) on tables built from the
 * input and on arbitrary payloads, and the encoder-decoder round trip.
 *
 * Layout: d[0] flags (bit 0: round trip instead of raw payload; bit 1:
 * 131072 + n elements, eight full lanes), d[1..2] n, d[3..258] exponent
 * counts (0 = absent), d[259..386] mantissa counts, one per group of eight
 * mantissas per context (8 x 16), d[387] the mode exponent, then the
 * payload (raw) or the element bytes (round trip).
 *
 * Raw: df11_ans_decode returns OK or DF11_E_CORRUPT_CHUNK, with exactly
 * DF11_PAYLOAD_SLACK bytes of slack and an output of exactly n elements.
 * Round trip: elements whose exponents the table has, encoded by
 * df11_ans_encode, decode to themselves.
 */
#include "../../codec/compress/ans_model.h"
#include "../../codec/decompress/reader.h"

#include <stdio.h>
#include <stdlib.h>

#define FA_HEAD 388
#define FA_MAX_N 65535

static void fa_require(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ans: invariant broken: %s\n", what);
        abort();
    }
}

int fuzz_ans(const uint8_t *d, size_t n)
{
    if (n < FA_HEAD) return 0;
    uint32_t count = (uint32_t)(d[1] | d[2] << 8) % (FA_MAX_N + 1);
    if (d[0] & 2) count += 131072;
    if (count == 0) return 0;
    df11_ans_book b = {0};
    df11_fmt_table et = {.prob_bits = DF11_ANS_EXP_BITS};
    uint64_t ec[256], mc[128];
    unsigned present = 0;
    uint8_t have[256];
    for (int s = 0; s < 256; s++)
        if ((ec[s] = d[3 + s]) != 0) have[present++] = (uint8_t)s;
    if (!present) ec[0] = 1, have[present++] = 0;
    fa_require(df11_ans_normalize(ec, 256, DF11_ANS_EXP_BITS, false, et.freq), "exp table");
    df11_fmt_model m = {.exp_table = df11_ans_book_table(&b, &et)};
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        df11_fmt_table mt = {.prob_bits = DF11_ANS_MANT_BITS};
        for (unsigned s = 0; s < 128; s++) mc[s] = d[259 + 16 * c + s / 8];
        fa_require(df11_ans_normalize(mc, 128, DF11_ANS_MANT_BITS, true, mt.freq), "mantissa table");
        m.mant_table[c] = df11_ans_book_table(&b, &mt);
    }
    for (int e = 0; e < 256; e++) m.ctx[e] = df11_ans_ctx_of(e, d[387]);
    df11_ans_book_model(&b, &m);
    for (uint32_t t = 0; t < b.ntables; t++) {
        uint32_t sum = 0;
        for (int s = 0; s < 256; s++) sum += b.tables[t].freq[s];
        fa_require(sum == 1u << b.tables[t].prob_bits, "tables sum to 2^prob_bits");
    }
    static df11_ans_dtable t;
    df11_ans_dtable_build(b.tables, &b.models[0], &t);
    const uint8_t *rest = d + FA_HEAD;
    size_t rlen = n - FA_HEAD;
    uint16_t *dst = malloc((size_t)count * 2);
    char why[160];
    if (!(d[0] & 1)) {
        uint8_t *p = malloc(rlen + DF11_PAYLOAD_SLACK);
        if (p && dst) {
            if (rlen) memcpy(p, rest, rlen);
            memset(p + rlen, 0xA5, DF11_PAYLOAD_SLACK);
            df11_status s = df11_ans_decode(&t, p, (uint32_t)rlen, count, dst, why, sizeof why);
            fa_require(s == DF11_OK || s == DF11_E_CORRUPT_CHUNK, "decode returns OK or CORRUPT_CHUNK");
        }
        free(p);
    } else if (rlen) {
        uint8_t *src = malloc((size_t)count * 2);
        df11_ans_enc enc;
        df11_ans_enc_build(&b, 0, &enc);
        size_t cap = (size_t)count * 4 + 64;
        uint8_t *out = malloc(cap + DF11_PAYLOAD_SLACK);
        uint16_t *tmp = malloc(DF11_ANS_TMP_WORDS * sizeof *tmp);
        if (src && out && tmp && dst) {
            for (uint32_t i = 0; i < count; i++) {
                uint8_t a = rest[(2 * (size_t)i) % rlen], c = rest[(2 * (size_t)i + 1) % rlen];
                uint16_t v = (uint16_t)((c & 0x80) << 8 | have[(a ^ i) % present] << 7 | (c & 0x7F));
                src[2 * i] = (uint8_t)v, src[2 * i + 1] = (uint8_t)(v >> 8);
            }
            size_t len = df11_ans_encode(src, count, &enc, out, cap, tmp);
            fa_require(len > 0, "encoder takes every element its tables have");
            memset(out + len, 0, DF11_PAYLOAD_SLACK);
            df11_status s = df11_ans_decode(&t, out, (uint32_t)len, count, dst, why, sizeof why);
            fa_require(s == DF11_OK && memcmp(dst, src, (size_t)count * 2) == 0, "round trip");
        }
        free(src);
        free(out);
        free(tmp);
    }
    free(dst);
    df11_ans_book_free(&b);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_ans(d, n); }
#endif
