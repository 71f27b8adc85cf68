/* Which histograms of a file share one ANS table (FORMAT.md 9: tables MAY
 * be shared by many models). A table costs its compressed bytes in the
 * index once; coding a histogram with a table fitted to a group costs
 * its cross-entropy. Greedy agglomeration: start from one group per
 * histogram and merge, cheapest first, while a merge saves more table
 * than it loses in coding. Candidates are only the next few groups in
 * order of mean symbol (histograms that far apart in shape never pay to
 * merge), which keeps the search linear in the number of histograms:
 * on GPT-2's 1,300 mantissa contexts a window of 4 ends 0.0001 points
 * above a window of 64, in a seventh of the time. (Lloyd's rounds after
 * the merging, tried: within 150 bytes either way on GPT-2, MiniLM and
 * F16 MiniLM.) */
#include "ans_model.h"

#include <math.h>
#include <stdlib.h>

#define WINDOW 4
#define MULT(i) (mult ? (uint64_t)mult[i] : 1u)

double df11_ans_floor_bits(const uint64_t *c, unsigned nsym, unsigned P)
{
    uint64_t t = 0;
    for (unsigned s = 0; s < nsym; s++) t += c[s];
    if (!t) return 0;
    /* each count raised to the floor, so the probabilities are
     * max(c, floor) / (t z), z the raised counts' sum over t */
    double fl = (double)t / (double)(1u << P), z = 0, sum = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (!c[s]) continue;
        double r = (double)c[s] > fl ? (double)c[s] : fl;
        z += r;
        sum += (double)c[s] * log2(r);
    }
    return (double)t * log2(z) - sum;
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
    double cost; /* coding_bits + df11_ans_table_bits of sum */
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

/* What coding a group's histogram with its own table costs: its entropy,
 * or with P its floored cross-entropy (df11_ans_floor_bits), which
 * charges a merge for the rare symbols it adds to every member's table. */
static double coding_bits(const uint64_t *c, unsigned nsym, unsigned P)
{
    return P ? df11_ans_floor_bits(c, nsym, P) : df11_ans_own_bits(c, nsym);
}

static double merged_delta(const group *a, const group *b, unsigned nsym, unsigned P, uint64_t *tmp)
{
    for (unsigned s = 0; s < nsym; s++) tmp[s] = a->sum[s] + b->sum[s];
    return coding_bits(tmp, nsym, P) + df11_ans_table_bits(tmp, nsym) - a->cost - b->cost;
}

static void best_in_window(group *g, uint32_t i, uint32_t n, unsigned nsym, unsigned P, uint64_t *tmp)
{
    g[i].best = INFINITY;
    uint32_t j = g[i].next;
    for (unsigned w = 0; w < WINDOW && j < n; w++, j = g[j].next) {
        double d = merged_delta(&g[i], &g[j], nsym, P, tmp);
        if (d < g[i].best) g[i].best = d, g[i].with = j;
    }
}

df11_status df11_ans_cluster(const uint64_t *const *h, const uint32_t *mult, uint32_t n, unsigned nsym,
                             unsigned P, uint32_t *grp, uint64_t **sums, uint32_t *ngroups)
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
        g[p].cost = coding_bits(g[p].sum, nsym, P) + df11_ans_table_bits(g[p].sum, nsym);
        g[p].prev = p ? p - 1 : UINT32_MAX;
        g[p].next = p + 1 < n ? p + 1 : UINT32_MAX;
        g[p].alive = true;
    }
    for (uint32_t p = 0; p < n; p++) best_in_window(g, p, n, nsym, P, tmp);
    for (;;) {
        uint32_t i = UINT32_MAX;
        for (uint32_t p = 0; p < n; p++)
            if (g[p].alive && g[p].best < 0 && (i == UINT32_MAX || g[p].best < g[i].best)) i = p;
        if (i == UINT32_MAX) break;
        uint32_t j = g[i].with, after_j = g[j].next;
        for (unsigned s = 0; s < nsym; s++) g[i].sum[s] += g[j].sum[s];
        g[i].cost = coding_bits(g[i].sum, nsym, P) + df11_ans_table_bits(g[i].sum, nsym);
        g[j].alive = false;
        g[j].into = i;
        g[g[j].prev].next = after_j; /* j follows i, so it has a prev */
        if (after_j < n) g[after_j].prev = g[j].prev;
        /* the windows that held i or j: those of the WINDOW groups before
         * i, of i, and of the groups between i and where j was */
        uint32_t q = i;
        for (unsigned w = 0; w < WINDOW && g[q].prev < n; w++) q = g[q].prev;
        for (; q != after_j; q = g[q].next) best_in_window(g, q, n, nsym, P, tmp);
    }
    uint32_t ng = 0;
    uint32_t *id = malloc(n * sizeof *id);
    uint64_t *out = id ? malloc((size_t)n * nsym * sizeof *out) : NULL;
    if (!out) {
        free(id), free(k), free(g), free(pool), free(tmp);
        return DF11_E_NOMEM;
    }
    for (uint32_t p = 0; p < n; p++)
        if (g[p].alive) memcpy(out + (size_t)ng * nsym, g[p].sum, nsym * sizeof *out), id[p] = ng++;
    for (uint32_t p = 0; p < n; p++) { /* follow the merges */
        uint32_t q = p;
        while (!g[q].alive) q = g[q].into;
        grp[k[p].item] = id[q];
    }
    *sums = out;
    *ngroups = ng;
    free(id), free(k), free(g), free(pool), free(tmp);
    return DF11_OK;
}
