/* The mantissa contexts of one segment (FORMAT.md 9: a model's ctx[256]
 * is free). The exponents, in increasing order, are cut into at most
 * DF11_ANS_CONTEXTS runs so that the mantissas, each run coded with its
 * own distribution, cost the fewest bits: dynamic programming over the cut
 * points. Runs, not arbitrary groups: the mantissa distribution of a
 * Gaussian-like tensor changes smoothly with the exponent (flat far below
 * the mode, steeper above it), so runs lose nothing measurable against
 * greedy clustering (GPT-2: 66.0375% vs 66.0372% with own tables, both
 * from 66.0440% for "distance from the mode") and keep context c meaning
 * "the c-th band of exponents" in every tensor, which the file's shared
 * tables rely on. */
#include "ans_model.h"

#include <math.h>
#include <stdlib.h>

/* Cut points are searched among at most this many runs of adjacent
 * exponents: the cost matrix is UNITS^2/2 distributions of 128 symbols. */
#define UNITS 32

void df11_ans_ctx_map(const uint64_t *joint, uint8_t ctx[256])
{
    /* units: first exponent of each, merged by smallest combined count
     * until at most UNITS are left (a rare exponent decides nothing) */
    unsigned first[256], nu = 0;
    uint64_t cnt[256];
    for (unsigned e = 0; e < 256; e++) {
        uint64_t c = 0;
        for (unsigned m = 0; m < 128; m++) c += joint[e * 128 + m];
        if (c) first[nu] = e, cnt[nu++] = c;
    }
    while (nu > UNITS) {
        unsigned best = 0;
        for (unsigned u = 1; u + 1 < nu; u++)
            if (cnt[u] + cnt[u + 1] < cnt[best] + cnt[best + 1]) best = u;
        cnt[best] += cnt[best + 1];
        memmove(first + best + 1, first + best + 2, (nu - best - 2) * sizeof *first);
        memmove(cnt + best + 1, cnt + best + 2, (nu - best - 2) * sizeof *cnt);
        nu--;
    }
    memset(ctx, 0, 256);
    if (nu <= 1) return;
    /* prefix sums of the units' mantissa histograms */
    uint64_t (*pre)[128] = calloc(nu + 1, sizeof *pre);
    double (*cost)[UNITS + 1] = malloc(sizeof(double[UNITS + 1][UNITS + 1]));
    if (!pre || !cost) { /* no memory: one context, still a valid model */
        free(pre);
        free(cost);
        return;
    }
    for (unsigned u = 0; u < nu; u++) {
        unsigned end = u + 1 < nu ? first[u + 1] : 256;
        memcpy(pre[u + 1], pre[u], sizeof pre[u]);
        for (unsigned e = first[u]; e < end; e++)
            for (unsigned m = 0; m < 128; m++) pre[u + 1][m] += joint[e * 128 + m];
    }
    for (unsigned a = 0; a < nu; a++)
        for (unsigned b = a + 1; b <= nu; b++) {
            uint64_t h[128];
            for (unsigned m = 0; m < 128; m++) h[m] = pre[b][m] - pre[a][m];
            cost[a][b] = df11_ans_own_bits(h, 128);
        }
    /* best[k][b]: units 0..b-1 in k runs; cut[k][b]: where the last starts */
    unsigned K = nu < DF11_ANS_CONTEXTS ? nu : DF11_ANS_CONTEXTS;
    double best[DF11_ANS_CONTEXTS + 1][UNITS + 1];
    unsigned char cut[DF11_ANS_CONTEXTS + 1][UNITS + 1];
    for (unsigned b = 0; b <= nu; b++) best[0][b] = b ? INFINITY : 0;
    for (unsigned k = 1; k <= K; k++)
        for (unsigned b = 0; b <= nu; b++) {
            best[k][b] = INFINITY, cut[k][b] = 0;
            for (unsigned a = k - 1; a < b; a++) {
                double v = best[k - 1][a] + cost[a][b];
                if (v < best[k][b]) best[k][b] = v, cut[k][b] = (unsigned char)a;
            }
        }
    /* walk the cuts back: run k-1 covers units cut[k][b]..b-1 */
    unsigned start[DF11_ANS_CONTEXTS];
    for (unsigned k = K, b = nu; k > 0; k--) start[k - 1] = cut[k][b], b = cut[k][b];
    for (unsigned k = 0; k < K; k++) {
        unsigned lo = k ? first[start[k]] : 0;
        for (unsigned e = lo; e < 256; e++) ctx[e] = (uint8_t)k;
    }
    free(pre);
    free(cost);
}
