/* Choosing the ANS tables of a file (FORMAT.md 9) once pass 1 has seen it
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

/* An own table's cost in bits: about half a log2(count) per free
 * parameter (the MDL rule of thumb), checked against the zstd-compressed
 * index on GPT-2. */
static double table_bits(const uint64_t *counts, unsigned nsym)
{
    uint64_t total = 0;
    unsigned k = 0;
    for (unsigned s = 0; s < nsym; s++) total += counts[s], k += counts[s] != 0;
    return k < 2 ? 16 : 16 + 0.5 * (k - 1) * log2((double)total);
}

df11_status df11_ans_plan(uint32_t nseg, const uint8_t *kind, const uint64_t (*freq)[256],
                          const uint8_t *mode, uint64_t *const *sctx,
                          const uint64_t (*gctx)[128], df11_ans_book *book, uint32_t *seg_model)
{
    uint32_t shared[DF11_ANS_CONTEXTS], uniform;
    uint16_t gfreq[DF11_ANS_CONTEXTS][128];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) {
        df11_fmt_table t = {.prob_bits = DF11_ANS_MANT_BITS};
        /* every mantissa gets a frequency: any tensor may use the table */
        df11_ans_normalize(gctx[c], 128, DF11_ANS_MANT_BITS, true, t.freq);
        memcpy(gfreq[c], t.freq, sizeof gfreq[c]);
        if ((shared[c] = df11_ans_book_table(book, &t)) == UINT32_MAX) return DF11_E_NOMEM;
    }
    /* exactly 7 bits a mantissa: the floor for tensors unlike the rest
     * (all ones, random bits) that would pay more under the shared table */
    df11_fmt_table u = {.prob_bits = DF11_ANS_MANT_BITS};
    for (unsigned m = 0; m < 128; m++) u.freq[m] = 1u << (DF11_ANS_MANT_BITS - 7);
    if ((uniform = df11_ans_book_table(book, &u)) == UINT32_MAX) return DF11_E_NOMEM;
    for (uint32_t g = 0; g < nseg; g++) {
        seg_model[g] = 0;
        if (kind[g] != DF11_SEG_EXP16) continue;
        df11_fmt_table et = {.prob_bits = DF11_ANS_EXP_BITS};
        if (!df11_ans_normalize(freq[g], 256, DF11_ANS_EXP_BITS, false, et.freq)) continue;
        df11_fmt_model m = {0};
        if ((m.exp_table = df11_ans_book_table(book, &et)) == UINT32_MAX) return DF11_E_NOMEM;
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
            if (sh <= best) best = sh, m.mant_table[c] = shared[c];
            df11_fmt_table own = {.prob_bits = DF11_ANS_MANT_BITS};
            if (!df11_ans_normalize(h, 128, DF11_ANS_MANT_BITS, false, own.freq)) continue;
            double mine = df11_ans_cost(h, 128, DF11_ANS_MANT_BITS, own.freq) + table_bits(h, 128);
            if (mine < best && (m.mant_table[c] = df11_ans_book_table(book, &own)) == UINT32_MAX)
                return DF11_E_NOMEM;
        }
        uint32_t mi = df11_ans_book_model(book, &m);
        if (mi == UINT32_MAX) return DF11_E_NOMEM;
        seg_model[g] = mi + 1;
    }
    return DF11_OK;
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
