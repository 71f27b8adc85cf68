/* Choosing the ANS tables of a file (FORMAT.md 9, 10) once pass 1 has seen it
 * all. Every EXP16 segment gets a model: its own exponent table, and for
 * each of the eight mantissa contexts either a table of its own or the
 * file's shared table of that context, or a uniform one (7 bits), whichever
 * costs fewer bits with the table's own size counted. The mantissa of an exponent far below the
 * mode is nearly uniform and thin contexts cannot pay for a table, so most
 * contexts share; the two or three above the mode pay for their own in
 * large tensors (GPT-2: about 0.1 of a percentage point). */
#include "ans_model.h"

#include <math.h>
#include <stdlib.h>
#include <xxhash.h>

/* Histograms from this many elements on are grouped into tables; below,
 * a context takes the cheapest of the tables there are (it cannot pay
 * for one). Identical histograms (a file tiled from one model, layers
 * with the same statistics) are one item standing for all of them. At
 * most MAX_ITEMS distinct ones are grouped (the search is quadratic in
 * the worst case); past that, the rest do the same as small ones. */
#define CLUSTER_MIN 64
#define MAX_ITEMS 8192
/* Groups few enough that every context tries each of them. */
#define TRY_ALL_GROUPS 64

/* Distinct histograms, found again by hash (open addressing). */
typedef struct {
    const uint64_t **h;
    uint32_t *mult, n;
    uint64_t *hash;
    uint32_t *slot; /* 2 * MAX_ITEMS entries: item + 1, or 0 */
} item_set;

static bool items_init(item_set *s)
{
    s->h = malloc(MAX_ITEMS * sizeof *s->h);
    s->mult = malloc(MAX_ITEMS * sizeof *s->mult);
    s->hash = malloc(MAX_ITEMS * sizeof *s->hash);
    s->slot = calloc(2 * MAX_ITEMS, sizeof *s->slot);
    s->n = 0;
    return s->h && s->mult && s->hash && s->slot;
}

static void items_free(item_set *s)
{
    free(s->h), free(s->mult), free(s->hash), free(s->slot);
}

/* The item of histogram h (nsym counts), or UINT32_MAX when full. */
static uint32_t items_add(item_set *s, const uint64_t *h, unsigned nsym)
{
    uint64_t x = XXH3_64bits(h, nsym * sizeof *h);
    for (uint32_t p = (uint32_t)x & (2 * MAX_ITEMS - 1);; p = (p + 1) & (2 * MAX_ITEMS - 1)) {
        uint32_t i = s->slot[p];
        if (!i) {
            if (s->n == MAX_ITEMS) return UINT32_MAX;
            s->h[s->n] = h, s->mult[s->n] = 1, s->hash[s->n] = x;
            s->slot[p] = ++s->n;
            return s->n - 1;
        }
        if (s->hash[i - 1] == x && memcmp(s->h[i - 1], h, nsym * sizeof *h) == 0) {
            s->mult[i - 1]++;
            return i - 1;
        }
    }
}

typedef struct {
    uint32_t table;
    uint16_t freq[256];
} booked;

/* A table normalised from counts: for ANS_IL never with a frequency 2^P
 * (FORMAT.md 10), which only a one-symbol histogram would get. */
static bool normalize(const uint64_t *counts, unsigned nsym, unsigned P, bool all_symbols, bool il,
                      uint16_t *freq)
{
    return il ? df11_ans_normalize_il(counts, nsym, P, all_symbols, freq)
              : df11_ans_normalize(counts, nsym, P, all_symbols, freq);
}

/* Tables for the groups df11_ans_cluster made of sums[0..ng). */
static df11_status book_groups(df11_ans_book *book, const uint64_t *sums, uint32_t ng, unsigned nsym,
                               unsigned P, bool all_symbols, bool il, booked *out)
{
    for (uint32_t k = 0; k < ng; k++) {
        df11_fmt_table t = {.prob_bits = P};
        if (!normalize(sums + (size_t)k * nsym, nsym, P, all_symbols, il, t.freq)) return DF11_E_INTERNAL;
        memcpy(out[k].freq, t.freq, sizeof out[k].freq);
        if ((out[k].table = df11_ans_book_table(book, &t)) == UINT32_MAX) return DF11_E_NOMEM;
    }
    return DF11_OK;
}

/* Segments that get a model: EXP16, and for ANS_IL (from 1.3, ANS_IL_LZ
 * chunks) the upper halves of EXP32. */
static bool has_model(uint8_t kind, bool il)
{
    return kind == DF11_SEG_EXP16 || (il && kind == DF11_SEG_EXP32);
}

df11_status df11_ans_plan(uint32_t nseg, const uint8_t *kind, const uint64_t (*freq)[256],
                          const uint8_t *mode, uint64_t *const *sctx,
                          const uint64_t (*gctx)[128], df11_ans_book *book, uint32_t *seg_model,
                          bool il)
{
    /* ANS_IL codes exponents at P = 12 too (FORMAT.md 10): one 32-bit
     * decode entry per slot. The groups below are formed on entropies, so
     * only the normalisation sees P. */
    const unsigned EP = il ? DF11_ANS_IL_BITS : DF11_ANS_EXP_BITS;
    uint32_t shared[DF11_ANS_CONTEXTS], uniform;
    uint16_t gfreq[DF11_ANS_CONTEXTS][128];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        df11_fmt_table t = {.prob_bits = DF11_ANS_MANT_BITS};
        /* every mantissa gets a frequency: any tensor may use the table */
        normalize(gctx[c], 128, DF11_ANS_MANT_BITS, true, il, t.freq);
        memcpy(gfreq[c], t.freq, sizeof gfreq[c]);
        if ((shared[c] = df11_ans_book_table(book, &t)) == UINT32_MAX) return DF11_E_NOMEM;
    }
    /* exactly 7 bits a mantissa: the floor for tensors unlike the rest
     * (all ones, random bits) that would pay more under the shared table */
    df11_fmt_table u = {.prob_bits = DF11_ANS_MANT_BITS};
    for (unsigned m = 0; m < 128; m++) u.freq[m] = 1u << (DF11_ANS_MANT_BITS - 7);
    if ((uniform = df11_ans_book_table(book, &u)) == UINT32_MAX) return DF11_E_NOMEM;

    /* the items to group: large contexts, and every exponent histogram */
    item_set mi = {0}, ei = {0};
    uint32_t *mgrp = malloc(MAX_ITEMS * sizeof *mgrp), *egrp = malloc(MAX_ITEMS * sizeof *egrp);
    uint32_t *mitem = malloc((size_t)(nseg ? nseg : 1) * DF11_ANS_CONTEXTS * sizeof *mitem);
    uint32_t *eitem = malloc((size_t)(nseg ? nseg : 1) * sizeof *eitem);
    uint64_t *msums = NULL, *esums = NULL;
    booked *mb = NULL, *eb = NULL;
    df11_status st = DF11_E_NOMEM;
    bool ok = items_init(&mi);
    ok = items_init(&ei) && ok; /* both always run: out: frees both */
    if (!ok || !mgrp || !egrp || !mitem || !eitem) goto out;
    uint32_t mg = 0, eg = 0;
    for (uint32_t g = 0; g < nseg; g++) {
        eitem[g] = UINT32_MAX;
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) mitem[(size_t)g * DF11_ANS_CONTEXTS + c] = UINT32_MAX;
        if (!has_model(kind[g], il)) continue;
        eitem[g] = items_add(&ei, freq[g], 256);
        if (!sctx[g]) continue;
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
            const uint64_t *h = sctx[g] + 128 * c;
            uint64_t t = 0;
            for (unsigned m = 0; m < 128; m++) t += h[m];
            if (t >= CLUSTER_MIN) mitem[(size_t)g * DF11_ANS_CONTEXTS + c] = items_add(&mi, h, 128);
        }
    }
    /* ANS_IL's exponent tables have 4096 slots, so a merge that adds rare
     * exponents to a table costs every member a slot each: groups are
     * costed at that precision. (Mantissa tables give all 128 symbols a
     * slot whatever is merged; and ANS keeps its groups as they were.) */
    if ((st = df11_ans_cluster(mi.h, mi.mult, mi.n, 128, 0, mgrp, &msums, &mg)) != DF11_OK) goto out;
    if ((st = df11_ans_cluster(ei.h, ei.mult, ei.n, 256, il ? EP : 0, egrp, &esums, &eg)) != DF11_OK) goto out;
    st = DF11_E_NOMEM;
    mb = malloc((mg ? mg : 1) * sizeof *mb);
    eb = malloc((eg ? eg : 1) * sizeof *eb);
    if (!mb || !eb) goto out;
    /* mantissa groups: every mantissa gets a frequency, so any context
     * may take any group's table */
    if ((st = book_groups(book, msums, mg, 128, DF11_ANS_MANT_BITS, true, il, mb)) != DF11_OK) goto out;
    if ((st = book_groups(book, esums, eg, 256, EP, false, il, eb)) != DF11_OK) goto out;

    for (uint32_t g = 0; g < nseg; g++) {
        seg_model[g] = 0;
        if (!has_model(kind[g], il)) continue;
        df11_fmt_model m = {0};
        if (eitem[g] != UINT32_MAX) {
            m.exp_table = eb[egrp[eitem[g]]].table; /* its group holds all its exponents */
        } else {
            df11_fmt_table et = {.prob_bits = EP};
            if (!normalize(freq[g], 256, EP, false, il, et.freq)) continue;
            if ((m.exp_table = df11_ans_book_table(book, &et)) == UINT32_MAX) goto out;
        }
        if (sctx[g]) memcpy(m.ctx, sctx[g] + DF11_ANS_CONTEXTS * 128, 256);
        else
            for (int e = 0; e < 256; e++) m.ctx[e] = df11_ans_ctx_of(e, mode[g]);
        bool used[DF11_ANS_CONTEXTS] = {0};
        for (int e = 0; e < 256; e++) used[m.ctx[e]] |= freq[g][e] != 0;
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
            /* a context no exponent of the segment selects takes the
             * uniform table, which costs the index nearly nothing */
            m.mant_table[c] = sctx[g] || !used[c] ? uniform : shared[c];
            if (!sctx[g] || !used[c]) continue;
            const uint64_t *h = sctx[g] + 128 * c;
            double best = df11_ans_cost(h, 128, DF11_ANS_MANT_BITS, u.freq);
            double sh = df11_ans_cost(h, 128, DF11_ANS_MANT_BITS, gfreq[c]);
            if (sh < best) best = sh, m.mant_table[c] = shared[c];
            uint32_t it = mitem[(size_t)g * DF11_ANS_CONTEXTS + c];
            for (uint32_t k = 0; k < mg; k++) {
                if (mg > TRY_ALL_GROUPS && (it == UINT32_MAX || k != mgrp[it])) continue;
                double v = df11_ans_cost(h, 128, DF11_ANS_MANT_BITS, mb[k].freq);
                if (v < best) best = v, m.mant_table[c] = mb[k].table;
            }
        }
        uint32_t mix = df11_ans_book_model(book, &m);
        if (mix == UINT32_MAX) goto out;
        seg_model[g] = mix + 1;
    }
    st = DF11_OK;
out:
    items_free(&mi), items_free(&ei);
    free(mgrp), free(egrp), free(mitem), free(eitem);
    free(msums), free(esums), free(mb), free(eb);
    return st;
}

/* Keeps only the models of segments that use ANS and the tables those
 * models use, renumbered in order. */
df11_status df11_ans_prune(df11_ans_book *b, uint32_t nseg, uint32_t *seg_model,
                           const bool *seg_uses)
{
    uint32_t *tmap = calloc(b->ntables ? b->ntables : 1, sizeof *tmap);
    uint32_t *mmap = calloc(b->nmodels ? b->nmodels : 1, sizeof *mmap);
    if (!tmap || !mmap) {
        free(tmap);
        free(mmap);
        return DF11_E_NOMEM;
    }
    for (uint32_t g = 0; g < nseg; g++) {
        if (!seg_model[g]) continue;
        if (!seg_uses[g]) {
            seg_model[g] = 0;
            continue;
        }
        const df11_fmt_model *m = &b->models[seg_model[g] - 1];
        mmap[seg_model[g] - 1] = 1;
        tmap[m->exp_table] = 1;
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) tmap[m->mant_table[c]] = 1;
    }
    uint32_t nt = 0, nm = 0;
    for (uint32_t t = 0; t < b->ntables; t++)
        if (tmap[t]) b->tables[nt] = b->tables[t], b->thash[nt] = b->thash[t], tmap[t] = nt++;
    for (uint32_t i = 0; i < b->nmodels; i++) {
        if (!mmap[i]) continue;
        df11_fmt_model *m = &b->models[nm];
        *m = b->models[i];
        m->exp_table = tmap[m->exp_table];
        for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) m->mant_table[c] = tmap[m->mant_table[c]];
        b->mhash[nm] = XXH3_64bits(m, sizeof *m);
        mmap[i] = ++nm; /* index + 1 */
    }
    for (uint32_t g = 0; g < nseg; g++)
        if (seg_model[g]) seg_model[g] = mmap[seg_model[g] - 1];
    b->ntables = nt;
    b->nmodels = nm;
    free(tmap);
    free(mmap);
    return DF11_OK;
}
