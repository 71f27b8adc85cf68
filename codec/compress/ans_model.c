/* Frequency tables and models of the ANS codec (FORMAT.md 9), encoder
 * side. Normalisation rounds, then moves the rounding error one unit at a
 * time to where it costs least, so a table is within a hair of the
 * histogram's entropy even for symbols far rarer than 2^-P. */
#include "ans_model.h"

#include <math.h>
#include <stdlib.h>
#include <xxhash.h>

bool df11_ans_normalize(const uint64_t *counts, unsigned nsym, unsigned P, bool all_symbols,
                        uint16_t *freq)
{
    uint64_t total = 0;
    unsigned present = 0;
    for (unsigned s = 0; s < nsym; s++) {
        uint64_t c = counts[s] ? counts[s] : all_symbols;
        total += c;
        present += c != 0;
    }
    memset(freq, 0, nsym * sizeof *freq);
    if (total == 0 || present > (1u << P)) return false;
    int64_t sum = 0;
    for (unsigned s = 0; s < nsym; s++) {
        uint64_t c = counts[s] ? counts[s] : all_symbols;
        if (!c) continue;
        double f = (double)c * (double)(1u << P) / (double)total;
        uint32_t q = (uint32_t)(f + 0.5);
        freq[s] = (uint16_t)(q < 1 ? 1 : q > (1u << P) ? (1u << P) : q);
        sum += freq[s];
    }
    int64_t d = (int64_t)(1u << P) - sum;
    while (d != 0) {
        int best = -1;
        double bc = INFINITY;
        for (unsigned s = 0; s < nsym; s++) {
            if (!freq[s]) continue;
            double c = (double)(counts[s] ? counts[s] : all_symbols);
            double delta; /* bits added by the move */
            if (d > 0) delta = -c * log2((freq[s] + 1.0) / freq[s]);
            else if (freq[s] > 1) delta = c * log2(freq[s] / (freq[s] - 1.0));
            else continue;
            if (delta < bc) bc = delta, best = (int)s;
        }
        if (best < 0) return false;
        freq[best] = (uint16_t)(freq[best] + (d > 0 ? 1 : -1));
        d += d > 0 ? -1 : 1;
    }
    return true;
}

bool df11_ans_normalize_il(const uint64_t *counts, unsigned nsym, unsigned P, bool all_symbols,
                           uint16_t *freq)
{
    if (!df11_ans_normalize(counts, nsym, P, all_symbols, freq)) return false;
    /* only a table of one symbol can hold 2^P: every other symbol there is
     * has at least 1 */
    for (unsigned s = 0; s < nsym; s++)
        if (freq[s] == 1u << P) {
            if (nsym < 2) return false;
            freq[s]--;
            freq[s + 1 < nsym ? s + 1 : s - 1] = 1;
            break;
        }
    return true;
}

double df11_ans_cost(const uint64_t *counts, unsigned nsym, unsigned P, const uint16_t *freq)
{
    double bits = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (!counts[s]) continue;
        if (!freq[s]) return INFINITY;
        bits += (double)counts[s] * (P - log2((double)freq[s]));
    }
    return bits;
}

double df11_ans_own_bits(const uint64_t *c, unsigned nsym)
{
    uint64_t t = 0;
    double s = 0;
    for (unsigned m = 0; m < nsym; m++)
        if (c[m]) t += c[m], s += (double)c[m] * log2((double)c[m]);
    return t ? (double)t * log2((double)t) - s : 0;
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap) return true;
    uint32_t c = *cap ? 2 * *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, (size_t)c * size);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Identical records are stored once: a file tiled from one model (or a
 * checkpoint whose layers share statistics) would otherwise repeat them
 * thousands of times, beyond the reach of the index's zstd window. Linear
 * search over a hash of the record's bytes. */
static uint32_t find_same(const void *base, uint32_t count, size_t size, const uint64_t *hashes,
                          uint64_t h, const void *rec)
{
    for (uint32_t i = count; i-- > 0;)
        if (hashes[i] == h && memcmp((const uint8_t *)base + (size_t)i * size, rec, size) == 0) return i;
    return UINT32_MAX;
}

/* Books rec (size bytes) into the array *recs of *count records with
 * their hashes beside them: the index of an identical record already
 * there, else of the appended copy. The hash array always has the
 * records' capacity, so it grows from the same old capacity. */
static uint32_t book(void **recs, uint64_t **hashes, uint32_t *count, uint32_t *cap,
                     const void *rec, size_t size)
{
    uint64_t h = XXH3_64bits(rec, size);
    uint32_t same = find_same(*recs, *count, size, *hashes, h, rec);
    if (same != UINT32_MAX) return same;
    uint32_t hcap = *cap;
    if (!grow(recs, cap, *count + 1, size)) return UINT32_MAX;
    if (!grow((void **)hashes, &hcap, *count + 1, sizeof h)) return UINT32_MAX;
    memcpy((uint8_t *)*recs + (size_t)*count * size, rec, size);
    (*hashes)[*count] = h;
    return (*count)++;
}

uint32_t df11_ans_book_table(df11_ans_book *b, const df11_fmt_table *t)
{
    return book((void **)&b->tables, &b->thash, &b->ntables, &b->tcap, t, sizeof *t);
}

uint32_t df11_ans_book_model(df11_ans_book *b, const df11_fmt_model *m)
{
    return book((void **)&b->models, &b->mhash, &b->nmodels, &b->mcap, m, sizeof *m);
}

void df11_ans_book_free(df11_ans_book *b)
{
    free(b->tables);
    free(b->models);
    free(b->thash);
    free(b->mhash);
    memset(b, 0, sizeof *b);
}

static void syms(const df11_fmt_table *t, unsigned nsym, df11_ans_sym *out)
{
    uint32_t cum = 0, M = 1u << t->prob_bits;
    for (unsigned s = 0; s < nsym; s++) {
        uint32_t f = t->freq[s];
        out[s] = (df11_ans_sym){
            .rcp = f >= 2 ? UINT64_MAX / f + 1 : UINT64_MAX,
            .freq = (uint16_t)f,
            .bias = (uint16_t)(f >= 2 ? cum : cum + M - 1),
            .cmpl = (uint16_t)(M - f),
            .bad = f == 0,
        };
        cum += f;
    }
}

void df11_ans_enc_build(const df11_ans_book *b, uint32_t mi, df11_ans_enc *out)
{
    const df11_fmt_model *m = &b->models[mi];
    syms(&b->tables[m->exp_table], 256, out->exp);
    for (unsigned e = 0; e < 256; e++)
        out->exp[e].ctx = out->exp[e].freq ? m->ctx[e] : (uint8_t)DF11_ANS_CONTEXTS;
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++)
        syms(&b->tables[m->mant_table[c]], 128, out->mant[c]);
    for (unsigned s = 0; s < 128; s++) out->mant[DF11_ANS_CONTEXTS][s] = (df11_ans_sym){.bad = 1};
    /* the packed copies; cum from the bias (12 bits, meaningful only for
     * ANS_IL's 12-bit tables, whose freq-1 symbols it does not offset) */
    for (unsigned e = 0; e < 256; e++) {
        const df11_ans_sym *y = &out->exp[e];
        uint32_t cum = y->freq >= 2 ? y->bias : y->freq ? (uint32_t)(y->bias - y->cmpl) : 0;
        out->epack[e] = (y->freq & 0xFFFu) | (cum & 0xFFFu) << 12 | (uint32_t)y->ctx << 24 | (uint32_t)y->bad << 28;
    }
    for (unsigned c = 0; c <= DF11_ANS_CONTEXTS; c++)
        for (unsigned m = 0; m < 128; m++) {
            const df11_ans_sym *y = &out->mant[c][m];
            uint32_t cum = y->freq >= 2 ? y->bias : y->freq ? (uint32_t)(y->bias - y->cmpl) : 0;
            out->mpack[c * 128 + m] = (y->freq & 0xFFFu) | (cum & 0xFFFu) << 12 | (uint32_t)y->bad << 28;
        }
}
