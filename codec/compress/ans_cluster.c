/* Which histograms of a file share one ANS table (FORMAT.md 9: tables MAY
 * be shared by many models). A table costs its compressed bytes in the
 * index once; coding a histogram with a table fitted to a group costs
 * its cross-entropy. Greedy agglomeration: start from one group per
 * histogram and merge, cheapest first, while a merge saves more table
 * than it loses in coding. Candidates are only the next few groups in
 * order of mean symbol (histograms that far apart in shape never pay to
 * merge), which keeps the search linear in the number of histograms:
 * on GPT-2's 300 mantissa contexts of over a thousand elements, a window
 * of 4 ends within 0.0003 points of trying every pair. */
#include "ans_model.h"

#include <math.h>
#include <stdlib.h>

#define WINDOW 4
#define MULT(i) (mult ? (uint64_t)mult[i] : 1u)

/* Bits to code counts c[0..nsym) with their own distribution. */
static double own_bits(const uint64_t *c, unsigned nsym)
{
    uint64_t t = 0;
    double s = 0;
    for (unsigned m = 0; m < nsym; m++)
        if (c[m]) t += c[m], s += (double)c[m] * log2((double)c[m]);
    return t ? (double)t * log2((double)t) - s : 0;
}

double df11_ans_table_bits(const uint64_t *counts, unsigned nsym)
{
    uint64_t total = 0;
    unsigned k = 0;
    for (unsigned s = 0; s < nsym; s++) total += counts[s], k += counts[s] != 0;
    return k < 2 ? 16 : 16 + 0.5 * (k - 1) * log2((double)total);
}

typedef struct {
    uint64_t *sum;
    double cost; /* own_bits + table_bits of sum */
    double best; /* the saving's opposite of the best merge in the window */
    uint32_t with, prev, next;
    uint32_t into; /* once merged: the group it went into */
    bool alive;
} group;

typedef struct {
    double key;
    uint32_t item;
} keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->item < y->item ? -1 : x->item > y->item;
}

static double merged_delta(const group *a, const group *b, unsigned nsym, uint64_t *tmp)
{
    for (unsigned s = 0; s < nsym; s++) tmp[s] = a->sum[s] + b->sum[s];
    return own_bits(tmp, nsym) + df11_ans_table_bits(tmp, nsym) - a->cost - b->cost;
}

static void best_in_window(group *g, uint32_t i, uint32_t n, unsigned nsym, uint64_t *tmp)
{
    g[i].best = INFINITY;
    uint32_t j = g[i].next;
    for (unsigned w = 0; w < WINDOW && j < n; w++, j = g[j].next) {
        double d = merged_delta(&g[i], &g[j], nsym, tmp);
        if (d < g[i].best) g[i].best = d, g[i].with = j;
    }
}

/* Lloyd's iterations on the groups the merging left: each item moves to
 * the group whose distribution codes it in the fewest bits, then the
 * groups are summed again from their items (merging never revisits an
 * early choice). at[p]: the group of item p (in key order), updated; the
 * alive groups are then those with items. */
#define ROUNDS 4
#define REFINE_PAIRS (1u << 20)
static df11_status refine(const uint64_t *const *h, const uint32_t *mult, uint32_t n, unsigned nsym,
                          group *g, const keyed *k, uint32_t *at)
{
    uint32_t *live = malloc(n * sizeof *live), nl = 0;
    double *lp = NULL;
    if (!live) goto fail;
    for (uint32_t p = 0; p < n; p++)
        if (g[p].alive) live[nl++] = p;
    if (!(lp = malloc((size_t)nl * nsym * sizeof *lp))) goto fail;
    /* items x groups x symbols a round: bounded, or left as merged */
    int rounds = (uint64_t)n * nl <= REFINE_PAIRS ? ROUNDS : 0;
    for (int r = 0; r < rounds; r++) {
        for (uint32_t a = 0; a < nl; a++) {
            const uint64_t *c = g[live[a]].sum;
            uint64_t t = 0;
            for (unsigned s = 0; s < nsym; s++) t += c[s];
            for (unsigned s = 0; s < nsym; s++)
                lp[(size_t)a * nsym + s] = -log2(((double)c[s] + 0.5) / ((double)t + 0.5 * nsym));
        }
        bool moved = false;
        for (uint32_t p = 0; p < n; p++) {
            const uint64_t *c = h[k[p].item];
            double best = INFINITY;
            uint32_t to = at[p];
            for (uint32_t a = 0; a < nl; a++) {
                double v = 0;
                for (unsigned s = 0; s < nsym; s++) v += (double)c[s] * lp[(size_t)a * nsym + s];
                if (v < best) best = v, to = live[a];
            }
            moved |= to != at[p];
            at[p] = to;
        }
        if (!moved) break;
        for (uint32_t a = 0; a < nl; a++) memset(g[live[a]].sum, 0, nsym * sizeof *g[0].sum);
        for (uint32_t p = 0; p < n; p++)
            for (unsigned s = 0; s < nsym; s++) g[at[p]].sum[s] += h[k[p].item][s] * MULT(k[p].item);
    }
    /* an emptied group is gone */
    for (uint32_t a = 0; a < nl; a++) g[live[a]].alive = false;
    for (uint32_t p = 0; p < n; p++) g[at[p]].alive = true;
    free(live), free(lp);
    return DF11_OK;
fail:
    free(live), free(lp);
    return DF11_E_NOMEM;
}

df11_status df11_ans_cluster(const uint64_t *const *h, const uint32_t *mult, uint32_t n, unsigned nsym,
                             uint32_t *grp, uint64_t **sums, uint32_t *ngroups)
{
    *sums = NULL;
    *ngroups = 0;
    if (!n) return DF11_OK;
    keyed *k = malloc(n * sizeof *k);
    group *g = calloc(n, sizeof *g);
    uint64_t *pool = malloc((size_t)n * nsym * sizeof *pool), *tmp = malloc(nsym * sizeof *tmp);
    if (!k || !g || !pool || !tmp) {
        free(k), free(g), free(pool), free(tmp);
        return DF11_E_NOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        double t = 0, m = 0;
        for (unsigned s = 0; s < nsym; s++) t += (double)h[i][s], m += (double)h[i][s] * s;
        k[i] = (keyed){t ? m / t : 0, i};
    }
    qsort(k, n, sizeof *k, by_key);
    /* group p starts as item k[p].item, in key order */
    for (uint32_t p = 0; p < n; p++) {
        g[p].sum = pool + (size_t)p * nsym;
        for (unsigned s = 0; s < nsym; s++) g[p].sum[s] = h[k[p].item][s] * MULT(k[p].item);
        g[p].cost = own_bits(g[p].sum, nsym) + df11_ans_table_bits(g[p].sum, nsym);
        g[p].prev = p ? p - 1 : UINT32_MAX;
        g[p].next = p + 1 < n ? p + 1 : UINT32_MAX;
        g[p].alive = true;
    }
    for (uint32_t p = 0; p < n; p++) best_in_window(g, p, n, nsym, tmp);
    for (;;) {
        uint32_t i = UINT32_MAX;
        for (uint32_t p = 0; p < n; p++)
            if (g[p].alive && g[p].best < 0 && (i == UINT32_MAX || g[p].best < g[i].best)) i = p;
        if (i == UINT32_MAX) break;
        uint32_t j = g[i].with, after_j = g[j].next;
        for (unsigned s = 0; s < nsym; s++) g[i].sum[s] += g[j].sum[s];
        g[i].cost = own_bits(g[i].sum, nsym) + df11_ans_table_bits(g[i].sum, nsym);
        g[j].alive = false;
        g[j].into = i;
        g[g[j].prev].next = after_j; /* j follows i, so it has a prev */
        if (after_j < n) g[after_j].prev = g[j].prev;
        /* the windows that held i or j: those of the WINDOW groups before
         * i, of i, and of the groups between i and where j was */
        uint32_t q = i;
        for (unsigned w = 0; w < WINDOW && g[q].prev < n; w++) q = g[q].prev;
        for (; q != after_j; q = g[q].next) best_in_window(g, q, n, nsym, tmp);
    }
    uint32_t ng = 0;
    uint32_t *id = malloc(n * sizeof *id), *at = malloc(n * sizeof *at);
    uint64_t *out = id && at ? malloc((size_t)n * nsym * sizeof *out) : NULL;
    if (out) {
        for (uint32_t p = 0; p < n; p++) { /* follow the merges */
            uint32_t q = p;
            while (!g[q].alive) q = g[q].into;
            at[p] = q;
        }
    }
    if (!out || refine(h, mult, n, nsym, g, k, at) != DF11_OK) {
        free(out), free(id), free(at), free(k), free(g), free(pool), free(tmp);
        return DF11_E_NOMEM;
    }
    for (uint32_t p = 0; p < n; p++)
        if (g[p].alive) memcpy(out + (size_t)ng * nsym, g[p].sum, nsym * sizeof *out), id[p] = ng++;
    for (uint32_t p = 0; p < n; p++) grp[k[p].item] = id[at[p]];
    free(at);
    *sums = out;
    *ngroups = ng;
    free(id), free(k), free(g), free(pool), free(tmp);
    return DF11_OK;
}
