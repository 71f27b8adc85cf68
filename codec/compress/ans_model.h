/* The encoder's side of the ANS codecs (FORMAT.md 9 and 10): frequency
 * tables normalised from histograms, one model per EXP16 segment, and the
 * chunk encoders. */
#ifndef DF11_ANS_MODEL_H
#define DF11_ANS_MODEL_H
#include "../common/ans.h"
#include "../common/internal.h"

/* One symbol as the encoder codes it, in the form of ryg's rans64:
 * x' = x + bias + q * cmpl with q = x / freq taken as (x * rcp) >> 64.
 * For freq >= 2, rcp = ceil(2^64 / freq) (exact for x < 2^32), bias =
 * cum, cmpl = 2^P - freq; freq 1 takes rcp = 2^64 - 1 (q = x - 1) and
 * bias = cum + 2^P - 1, which gives x * 2^P + cum with no branch. */
typedef struct {
    uint64_t rcp;
    uint16_t freq;   /* renormalise when x >> (32 - P) >= freq */
    uint16_t bias, cmpl;
    uint8_t ctx;     /* exponents: the mantissa context (DF11_ANS_CONTEXTS for none) */
    uint8_t bad;     /* mantissas: 1 where the symbol has no frequency */
} df11_ans_sym;

/* What df11_ans_encode needs of one model. An exponent without a
 * frequency selects the extra context, whose mantissas are all bad, so
 * one test per element finds both kinds of missing symbol. */
typedef struct {
    df11_ans_sym exp[256];
    df11_ans_sym mant[DF11_ANS_CONTEXTS + 1][128];
    /* The same symbols packed for ANS_IL's vector steps (12-bit tables):
     * freq | cum << 12 | ctx << 24 | bad << 28, mantissas by ctx * 128 + m. */
    uint32_t epack[256];
    uint32_t mpack[(DF11_ANS_CONTEXTS + 1) * 128];
} df11_ans_enc;

/* The tables and models a file will carry, in index order. */
typedef struct {
    df11_fmt_table *tables;
    uint32_t ntables, tcap;
    df11_fmt_model *models;
    uint32_t nmodels, mcap;
    uint64_t *thash, *mhash; /* XXH3 of each record, to store duplicates once */
} df11_ans_book;

/* The context of exponent e in a segment whose most common exponent is
 * mode: below mode-1 share context 0, mode+5 and above share 7. */
static inline uint8_t df11_ans_ctx_of(int e, int mode)
{
    int d = e - mode + 2;
    return (uint8_t)(d < 0 ? 0 : d > 7 ? 7 : d);
}

/* The contexts of a segment with its (exponent, mantissa) histogram
 * joint[256 * 128]: runs of exponents chosen to code its mantissas in the
 * fewest bits (ans_ctx.c). */
void df11_ans_ctx_map(const uint64_t *joint, uint8_t ctx[256]);

/* Normalises counts[0..nsym) to frequencies summing to 2^P: every symbol
 * with a count (every symbol when all_symbols) gets at least 1. Returns
 * false if there is nothing to normalise. */
bool df11_ans_normalize(const uint64_t *counts, unsigned nsym, unsigned P, bool all_symbols,
                        uint16_t *freq);
/* The same, and no frequency is 2^P (FORMAT.md 10, ANS_IL): a table of
 * one symbol gives one slot to a neighbour, which costs the symbol
 * log2(4096/4095) = 0.00035 bits. */
bool df11_ans_normalize_il(const uint64_t *counts, unsigned nsym, unsigned P, bool all_symbols,
                           uint16_t *freq);
/* Bits that coding counts c[0..nsym) with their own distribution costs
 * (the order-0 entropy times the count). */
double df11_ans_own_bits(const uint64_t *c, unsigned nsym);
/* Bits that coding counts with the normalised freq costs. */
double df11_ans_cost(const uint64_t *counts, unsigned nsym, unsigned P, const uint16_t *freq);

/* Adds a table/model, or finds an identical one; returns its index or
 * UINT32_MAX when out of memory. Records must be zero-initialised structs
 * (their bytes are compared). */
uint32_t df11_ans_book_table(df11_ans_book *b, const df11_fmt_table *t);
uint32_t df11_ans_book_model(df11_ans_book *b, const df11_fmt_model *m);
void df11_ans_book_free(df11_ans_book *b);

/* The encoder tables of model mi of book b. */
void df11_ans_enc_build(const df11_ans_book *b, uint32_t mi, df11_ans_enc *out);

/* Encodes n BF16 elements of src as an ANS payload into out (capacity
 * cap); tmp holds DF11_ANS_TMP_WORDS words. Returns the payload size,
 * or 0 when an element's symbol has no frequency or it does not fit. */
size_t df11_ans_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, uint8_t *out,
                       size_t cap, uint16_t *tmp);
/* Encodes n elements of src as an ANS_IL payload (FORMAT.md 10; signs:
 * the lane states carry signs, 10.1, for files with flag IL_SIGNS) into out
 * (capacity cap), with a model whose tables all have P = 12 and no
 * frequency 2^12. The words are staged at the end of out itself, so it
 * needs no scratch buffer. Returns the payload size, or 0 when an element's symbol has no
 * frequency or it does not fit. */
size_t df11_ans_il_encode(const uint8_t *src, uint32_t n, const df11_ans_enc *m, bool signs,
                          uint8_t *out, size_t cap);
/* The same at a SIMD level of df11_ans_simd_level's (2: the AVX-512
 * path, below 2 the scalar one), at most the CPU's (df11_ans_simd_force
 * says which), for tests: every level writes the same bytes. */
size_t df11_ans_il_encode_at(const uint8_t *src, uint32_t n, const df11_ans_enc *m, bool signs,
                             uint8_t *out, size_t cap, int level);
/* The sign plane of n elements (FORMAT.md 9): (n + 7) / 8 bytes at sg. */
void df11_ans_sign_plane(const uint8_t *src, uint32_t n, uint8_t *sg);
/* After pass 1: the book of a file with nseg segments. freq: exponent
 * histograms; mode: most common exponent; sctx: per segment NULL or its
 * eight context histograms (8 x 128) followed by its context map (256
 * bytes); without them a segment's map is df11_ans_ctx_of its mode; gctx:
 * the context histograms over all EXP16 segments. seg_model[g] receives
 * model index + 1, or 0. il: models for ANS_IL (FORMAT.md 10: exponent
 * tables at P = 12, no frequency 2^12 in any table), else for ANS (9:
 * exponent tables at P = 14). */
df11_status df11_ans_plan(uint32_t nseg, const uint8_t *kind, const uint64_t (*freq)[256],
                          const uint8_t *mode, uint64_t *const *sctx,
                          const uint64_t (*gctx)[128], df11_ans_book *book, uint32_t *seg_model,
                          bool il);
/* Groups histograms h[0..n) of nsym symbols, item i standing for mult[i]
 * identical ones (mult NULL: one each), that should share a table
 * (ans_cluster.c): grp[i] receives item i's group, *sums the ngroups
 * groups' summed histograms (nsym each, malloc'd, the caller frees).
 * P: the tables' precision when coding costs should see it (every
 * symbol takes at least one of 2^P slots), 0 to cost by entropy. */
df11_status df11_ans_cluster(const uint64_t *const *h, const uint32_t *mult, uint32_t n, unsigned nsym,
                             unsigned P, uint32_t *grp, uint64_t **sums, uint32_t *ngroups);
/* Bits that coding counts c costs with their own distribution at P bits
 * of precision, near enough: every symbol's probability raised to at
 * least 2^-P, the rest scaled down to make room. Above the entropy by
 * what the rare symbols' slots take from the others. */
double df11_ans_floor_bits(const uint64_t *c, unsigned nsym, unsigned P);
/* An estimate of a table's cost in the compressed index, in bits: half
 * a log2(count) per free parameter (the MDL rule of thumb), checked
 * against the zstd-compressed index on GPT-2. */
double df11_ans_table_bits(const uint64_t *counts, unsigned nsym);
/* Drops models of segments that use no ANS chunk (seg_uses[g] false) and
 * tables no model uses; renumbers seg_model. */
df11_status df11_ans_prune(df11_ans_book *b, uint32_t nseg, uint32_t *seg_model,
                           const bool *seg_uses);
/* Lanes df11_ans_encode codes side by side, and the words a lane can
 * need (two per element, and the one written below the last). */
#define DF11_ANS_ENC_GROUP 4u
/* sctx[g]: eight context histograms, then the map as 32 words of bytes */
#define DF11_ANS_SCTX_WORDS (DF11_ANS_CONTEXTS * 128 + 256 / 8)
#define DF11_ANS_LANE_WORDS (2 * (size_t)DF11_ANS_LANE + 2)
#define DF11_ANS_TMP_WORDS (DF11_ANS_ENC_GROUP * DF11_ANS_LANE_WORDS)
#endif
