/* CPU decoder of ANS_IL chunks (FORMAT.md 10). The chunk's nl lanes share
 * one word stream; per group of nl elements every lane takes its exponent
 * step, in lane order, then its mantissa step. codec/common/ans.h's
 * df11_ans_il_decode_ref is the normative decoder: every path here gives
 * its verdict on every input, and its bytes whenever it says ok.
 *
 * Paths (df11_ans_simd_level, so DF11_SIMD=0/1 force the others):
 *  - AVX-512 (level 2, nl >= 16): the lanes sit in V = nl / 16 zmm chains
 *    (a 16-lane chunk alone: two ymm chains, whose gathers complete sooner;
 *    several 16-lane chunks: one zmm chain each, interleaved, z_multi, of
 *    one tensor or of consecutive ones, each chain on its own tables).
 *    A group of chains goes phase by phase (z_group): every chain's
 *    gather, then every chain's update, so that the gathers overlap.
 *    A step is one 32-bit gather of the slot's entry (symbol, frequency,
 *    slot - cum), the multiply-add, and the refill: the chain's lanes
 *    below 2^16 take the stream's next words in lane order, which is one
 *    expand of 16 zero-extended words into the mask's lanes, and the
 *    stream advances by the mask's popcount. The context of the exponent
 *    is two vpermi2b on the 256-byte ctx table and a byte blend on bit 7
 *    of e. The sign plane's 16 bits per chain are a mask register, ORed in
 *    before the narrowing store. It runs while a whole group is left and
 *    the stream holds at least 2*nl + 16 words (a group takes at most
 *    2*nl, and each refill loads 16 words), so it never reads past the
 *    stream; the checked scalar code finishes.
 *  - AVX2 (level 1, nl >= 16): the same with 8-lane ymm chains; the expand
 *    is a vpermd through a 256-entry table of lane orders.
 *  - scalar: the reference's loop with a branch-free refill while the
 *    stream holds at least 2*nl words (no bound checks needed), then the
 *    checked loop. nl lanes in a row are independent chains, so the
 *    interleaving the ANS scalar decoder does by hand is there already.
 *
 * Decode tables (eslot 16 KiB, mslot 128 KiB, ctx) are built per model and
 * kept per thread, the last DF11_ANS_IL_TABLES of them (a batch may span
 * that many tensors). This file holds the
 * tables, the scalar path, the checks and the API; the SIMD runners are
 * in ans_il_x86.c. */
#include "ans_il.h"

#include <stdio.h>
#include <stdlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ANS_IL decoder reads little-endian words directly"
#endif



void df11_ans_il_dtable_build(const df11_fmt_table *tables, const df11_fmt_model *m, bool signs,
                              df11_ans_il_dtable *t)
{
    t->signs = signs;
    const uint16_t *mfreq[DF11_ANS_CONTEXTS];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) mfreq[c] = tables[m->mant_table[c]].freq;
    /* the same entries as ans.h's builder, sixteen per store: a tensor of
     * a few chunks takes about as long to decode as the scalar builder
     * took (7% of GPT-2 --max df11_pread) */
    if (!df11_il_fast_build(tables[m->exp_table].freq, mfreq, t->eslot, t->mslot))
        df11_ans_il_build(tables[m->exp_table].freq, mfreq, t->eslot, t->mslot);
    for (unsigned e = 0; e < 256; e++) t->ctx[e] = m->ctx[e] & 7u;
}

/* The calling thread's last DF11_ANS_IL_TABLES models, each in its own
 * thread-buffer slot (3..6): a batch may span that many tensors. */
const df11_ans_il_dtable *df11_ans_il_dtable_get(const df11_reader *r, uint32_t model)
{
    bool stale;
    df11_ans_il_dtable *t =
        (df11_ans_il_dtable *)df11_thread_table(3, DF11_ANS_IL_TABLES, sizeof *t, r->uid, model, &stale);
    if (t && stale) df11_ans_il_dtable_build(r->tables, &r->models[model], df11_il_signs(r), t);
    return t;
}


static inline void st16(uint8_t *p, uint32_t v)
{
    uint16_t w = (uint16_t)v;
    memcpy(p, &w, 2);
}


/* A refill without a branch (needed about every other step, at random;
 * see REFILL in ans_decode.c): the word is read whether it is taken or
 * not, so the caller guarantees one is there. */
#define IL_STEP(x, ent, fs, bs, p)                                                    \
    do {                                                                              \
        x = df11_ans_il_step(x, ent, fs, bs);                                         \
        uint32_t r_ = x < DF11_ANS_LOW;                                               \
        x = x << (r_ << 4) | (rd16(p) & (0u - r_));                                   \
        p += 2 * r_;                                                                  \
    } while (0)

/* Whole groups while the stream holds at least 2*nl words: a group takes
 * at most that many, so every unconditional word read is in the stream. */
static void scalar_fast(il_state *s)
{
    const uint32_t nl = s->nl;
    const uint32_t *eslot = s->t->eslot, *mslot = s->t->mslot;
    const uint8_t *ctx = s->t->ctx;
    const uint8_t *p = s->w + 2 * s->pos, *lim = s->w + 2 * s->nw;
    uint32_t *x = s->x, ev[DF11_ANS_IL_MAX_LANES];
    uint64_t i = s->i;
    while (s->n - i >= nl && (size_t)(lim - p) >= 4 * (size_t)nl) {
        for (uint32_t k = 0; k < nl; k++) {
            uint32_t xk = x[k], ent = eslot[xk & IL_M];
            IL_STEP(xk, ent, 8, 20, p);
            x[k] = xk;
            ev[k] = ent & 0xFFu;
        }
        for (uint32_t k = 0; k < nl; k++) {
            uint32_t xk = x[k], e = ev[k];
            uint32_t ent = mslot[(uint32_t)(ctx[e] & 7u) << DF11_ANS_IL_BITS | (xk & IL_M)];
            IL_STEP(xk, ent, 7, 19, p);
            x[k] = xk;
            uint64_t j = i + k;
            st16(s->dst + 2 * j, (uint32_t)(s->sg[j >> 3] >> (j & 7) & 1u) << 15 | e << 7 | (ent & 0x7Fu));
        }
        i += nl;
    }
    s->pos = (uint64_t)(p - s->w) / 2;
    s->i = i;
}

/* The rest, with the reference's checks: false as soon as a step wants a
 * word past the end (the reference's verdict then is bad too). */
static bool scalar_tail(il_state *s)
{
    const uint32_t nl = s->nl;
    const uint32_t *eslot = s->t->eslot, *mslot = s->t->mslot;
    const uint8_t *ctx = s->t->ctx;
    uint32_t *x = s->x, ev[DF11_ANS_IL_MAX_LANES];
    uint64_t pos = s->pos, nw = s->nw;
    for (uint64_t g = s->i; g < s->n; g += nl) {
        uint32_t cnt = s->n - g < nl ? (uint32_t)(s->n - g) : nl;
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t ent = eslot[x[k] & IL_M];
            x[k] = df11_ans_il_step(x[k], ent, 8, 20);
            if (x[k] < DF11_ANS_LOW) {
                if (pos >= nw) return false;
                x[k] = x[k] << 16 | rd16(s->w + 2 * pos++);
            }
            ev[k] = ent & 0xFFu;
        }
        for (uint32_t k = 0; k < cnt; k++) {
            uint32_t ent = mslot[(uint32_t)(ctx[ev[k]] & 7u) << DF11_ANS_IL_BITS | (x[k] & IL_M)];
            x[k] = df11_ans_il_step(x[k], ent, 7, 19);
            if (x[k] < DF11_ANS_LOW) {
                if (pos >= nw) return false;
                x[k] = x[k] << 16 | rd16(s->w + 2 * pos++);
            }
            uint64_t j = g + k;
            st16(s->dst + 2 * j, (uint32_t)(s->sg[j >> 3] >> (j & 7) & 1u) << 15 | ev[k] << 7 | (ent & 0x7Fu));
        }
    }
    s->pos = pos;
    s->i = s->n;
    return true;
}


/* Checks a payload's geometry and start states and sets s up; false
 * (why filled) when the reference would say bad. */
static bool il_start(il_state *s, const df11_ans_il_dtable *t, const uint8_t *payload, uint64_t len,
                     uint32_t n, void *dst, char *why, size_t why_len)
{
    uint32_t nl = df11_ans_il_lanes(n), carried = df11_ans_il_carried(n, nl, t->signs);
    uint64_t head = 4ull * nl, sign = df11_ans_il_plane_bytes(n, carried);
    if (len < head + sign) {
        snprintf(why, why_len, "payload of %llu bytes too short for %u elements", (unsigned long long)len, n);
        return false;
    }
    if ((len - head - sign) % 2) {
        snprintf(why, why_len, "word stream of %llu bytes is not whole words",
                 (unsigned long long)(len - head - sign));
        return false;
    }
    for (uint32_t k = 0; k < nl; k++) {
        memcpy(&s->x[k], payload + 4 * k, 4);
        /* the reference decodes on but its verdict is already bad */
        if (s->x[k] < DF11_ANS_LOW) {
            snprintf(why, why_len, "lane %u of %u starts in an impossible state", k, nl);
            return false;
        }
    }
    s->nl = nl;
    s->n = n;
    s->carried = carried;
    s->pos = 0;
    s->nw = (len - head - sign) / 2;
    s->i = 0;
    s->w = payload + head;
    /* the SIMD loops read every element's sign bit from here; those of
     * the carried elements are set right in il_finish */
    s->sg = df11_ans_il_signs_at(payload, len, n, carried);
    s->dst = dst;
    s->t = t;
    return true;
}

/* The scalar rest after the SIMD loops, and the end checks. */
static bool il_finish(il_state *s, char *why, size_t why_len)
{
    scalar_fast(s);
    if (!scalar_tail(s)) {
        snprintf(why, why_len, "word stream of %llu words ends before the last element",
                 (unsigned long long)s->nw);
        return false;
    }
    /* every lane's carried signs, as the reference sets them whatever its
     * verdict (its bytes and ours agree whenever both decoded every
     * element), then the first lane not back in a start state */
    uint32_t first_bad = UINT32_MAX;
    for (uint32_t k = s->nl; k-- > 0;) {
        if (!df11_ans_il_end_ok(s->x[k], df11_ans_il_held(s->carried, s->nl, k))) first_bad = k;
        df11_ans_il_put_signs(s->dst, s->carried, s->nl, k, s->x[k]);
    }
    if (first_bad != UINT32_MAX) {
        snprintf(why, why_len, "lane %u of %u does not end in a state the encoder starts from", first_bad,
                 s->nl);
        return false;
    }
    if (s->pos != s->nw) {
        snprintf(why, why_len, "%llu of the stream's %llu words are left over",
                 (unsigned long long)(s->nw - s->pos), (unsigned long long)s->nw);
        return false;
    }
    return true;
}

/* The VBMI the context lookup needs comes with every VBMI2 CPU (Ice
 * Lake, Zen 4); checked anyway, else AVX2. */
static int usable(int level) { return level >= 2 && !df11_il_have_vbmi() ? 1 : level; }

int df11_ans_il_decode_level(int level, const df11_ans_il_dtable *t, const uint8_t *payload,
                             uint64_t len, uint32_t n, void *dst, char *why, size_t why_len)
{
    il_state s;
    if (!il_start(&s, t, payload, len, n, dst, why, why_len)) return 1;
    df11_il_simd_run(usable(level), &s);
    return !il_finish(&s, why, why_len);
}

int df11_ans_il_decode_many_level(int level, const df11_ans_il_job *jobs, uint32_t count,
                                  uint32_t *bad, char *why, size_t why_len)
{
    il_state st[DF11_ANS_IL_BATCH], *one[DF11_ANS_IL_BATCH];
    level = usable(level);
    for (uint32_t k0 = 0; k0 < count; k0 += DF11_ANS_IL_BATCH) {
        uint32_t c = count - k0 < DF11_ANS_IL_BATCH ? count - k0 : DF11_ANS_IL_BATCH, m = 0;
        /* a job that fails here is reported unless one before it fails
         * later (the first failing job is the one named) */
        uint32_t c0 = c;
        for (uint32_t k = 0; k < c0; k++) {
            const df11_ans_il_job *j = &jobs[k0 + k];
            if (!il_start(&st[k], j->t, j->payload, j->payload_len, j->n, j->dst, why, why_len)) {
                c = k;
                break;
            }
        }
        /* 16-lane chunks interleave, on one table or several; the rest
         * run alone */
        if (level >= 1)
            for (uint32_t k = 0; k < c; k++)
                if (st[k].nl == 16) one[m++] = &st[k];
        if (m > 1) df11_il_multi_run(level, one, m);
        /* (a no-op for the chunks z_multi_run took to their end) */
        for (uint32_t k = 0; k < c; k++) {
            df11_il_simd_run(level, &st[k]);
            if (!il_finish(&st[k], why, why_len)) {
                *bad = k0 + k;
                return 1;
            }
        }
        if (c < c0) {
            *bad = k0 + c;
            return 1;
        }
    }
    return 0;
}

df11_status df11_ans_il_decode_many(const df11_ans_il_job *jobs, uint32_t count, uint32_t *bad,
                                    char *why, size_t why_len)
{
    return df11_ans_il_decode_many_level(df11_ans_simd_level(), jobs, count, bad, why, why_len)
               ? DF11_E_CORRUPT_CHUNK
               : DF11_OK;
}

df11_status df11_ans_il_decode(const df11_ans_il_dtable *t, const uint8_t *payload,
                               uint32_t payload_len, uint32_t n, void *dst, char *why,
                               size_t why_len)
{
    return df11_ans_il_decode_level(df11_ans_simd_level(), t, payload, payload_len, n, dst, why,
                                    why_len)
               ? DF11_E_CORRUPT_CHUNK
               : DF11_OK;
}
