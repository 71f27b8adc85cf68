/* CPU decoder of ANS chunks (FORMAT.md 9). A chunk's lanes are decoded
 * eight at a time, interleaved, so eight independent rANS dependency
 * chains overlap; each element is two table steps (exponent, then the
 * mantissa under the exponent's context). The sign plane is ORed in
 * afterwards, eight elements per byte through a 4 KiB table.
 *
 * Decode tables are built per model and kept per thread (the last model a
 * thread decoded): a tensor's chunks mostly reach a thread one after
 * another, and a table (147 KB) takes about as long to build as a chunk
 * takes to decode. */
#include "reader.h"

#include <stdatomic.h>
#include <stdio.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ANS decoder reads little-endian words directly"
#endif

#define EMASK ((1u << DF11_ANS_EXP_BITS) - 1)
#define MMASK ((1u << DF11_ANS_MANT_BITS) - 1)

void df11_ans_dtable_build(const df11_fmt_table *tables, const df11_fmt_model *m,
                           df11_ans_dtable *t)
{
    /* esym, einfo and mslot come from the builder the GPU path uses too
     * (codec/common/ans.h), so the layout is written once */
    const uint16_t *mfreq[DF11_ANS_CONTEXTS];
    for (unsigned c = 0; c < DF11_ANS_CONTEXTS; c++) mfreq[c] = tables[m->mant_table[c]].freq;
    df11_ans_build(tables[m->exp_table].freq, m->ctx, mfreq, t->esym, t->einfo, t->mslot);
    /* the SIMD path's one-lookup exponent entry (tables passed the
     * reader's checks, so the frequencies sum to 2^14) */
    const uint16_t *ef = tables[m->exp_table].freq;
    for (uint32_t s = 0, cum = 0; s < 256; cum += ef[s], s++)
        for (uint32_t k = 0; k < ef[s]; k++) t->eslot[cum + k] = df11_ans_eslot(ef[s], k, m->ctx[s] & 7u);
}

static _Atomic uint64_t next_uid = 1;
uint64_t df11_reader_uid(void) { return atomic_fetch_add(&next_uid, 1); }

const df11_ans_dtable *df11_ans_dtable_get(const df11_reader *r, uint32_t model)
{
    bool stale;
    df11_ans_dtable *t = (df11_ans_dtable *)df11_thread_table(2, 1, sizeof *t, r->uid, model, &stale);
    if (t && stale) df11_ans_dtable_build(r->tables, &r->models[model], t);
    return t;
}

/* dst may sit at any byte (df11_pread hands out the caller's buffer) */
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static inline uint32_t rd16(const uint8_t *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
    return w;
}

/* A word in when the state fell below 2^16, as shifts and masks: it is
 * needed about every other step, at random, and gcc turns a plain
 * conditional (even one marked a coin toss) into a branch that
 * mispredicts (GPT-2: 0.12 and 0.20 GB/s that way, 0.27 GB/s so). */
#define REFILL(x, p)                                                                \
    do {                                                                            \
        uint32_t r_ = x < DF11_ANS_LOW;                                             \
        x = x << (r_ << 4) | (rd16(p) & (0u - r_));                                 \
        p += 2 * r_;                                                                \
    } while (0)

/* One element of a lane held in locals x, p, written to out[i]. */
#define STEPL(x, p, out)                                                            \
    do {                                                                            \
        uint32_t s_ = x & EMASK, e_ = esym[s_], i_ = einfo[e_];                     \
        x = (i_ & 0x7FFFu) * (x >> DF11_ANS_EXP_BITS) + s_ - ((i_ >> 15) & 0x3FFFu); \
        REFILL(x, p);                                                               \
        uint32_t m_ = mslot[(i_ >> 29) << DF11_ANS_MANT_BITS | (x & MMASK)];         \
        x = ((m_ >> 7) & 0x1FFFu) * (x >> DF11_ANS_MANT_BITS) + (m_ >> 20);         \
        REFILL(x, p);                                                               \
        st16((out) + 2 * (size_t)i, (uint16_t)(e_ << 7 | (m_ & 0x7Fu)));            \
    } while (0)

/* N (4 or 8) full lanes, interleaved, their state in local arrays that
 * the fully unrolled loops turn into registers: state that stays in
 * memory goes through it after every output store and the chains then
 * barely overlap. Every four elements each lane is checked against its
 * end, so a corrupt lane reads at most 16 bytes past it, within the
 * payload's slack; false when one overran. */
static inline __attribute__((always_inline)) bool run_n(const unsigned N, uint32_t *xs,
                                                        const uint8_t **ps,
                                                        const uint8_t *const *end, uint8_t *out,
                                                        const uint8_t *esym,
                                                        const uint32_t *einfo,
                                                        const uint32_t *mslot)
{
    uint32_t x[8];
    const uint8_t *p[8];
    const size_t L = 2 * (size_t)DF11_ANS_LANE; /* bytes */
#pragma GCC unroll 8
    for (unsigned k = 0; k < N; k++) x[k] = xs[k], p[k] = ps[k];
    bool ok = true;
    for (uint32_t i = 0; i < DF11_ANS_LANE && ok;) {
        for (uint32_t stop = i + 4; i < stop; i++) {
#pragma GCC unroll 8
            for (unsigned k = 0; k < N; k++) STEPL(x[k], p[k], out + k * L);
        }
        bool over = false;
#pragma GCC unroll 8
        for (unsigned k = 0; k < N; k++) over |= p[k] > end[k];
        ok = !over;
    }
#pragma GCC unroll 8
    for (unsigned k = 0; k < N; k++) xs[k] = x[k], ps[k] = p[k];
    return ok;
}

/* Eight lanes: a full chunk's group. */
static bool run8(uint32_t *xs, const uint8_t **ps, const uint8_t *const *end, uint8_t *out,
                 const uint8_t *esym, const uint32_t *einfo, const uint32_t *mslot)
{
    return run_n(8, xs, ps, end, out, esym, einfo, mslot);
}

/* Four lanes: a tensor's last chunk often has four (GPT-2: 589,824
 * elements = 4.5 chunks), and one at a time they ran at the latency of a
 * single chain. */
static bool run4(uint32_t *xs, const uint8_t **ps, const uint8_t *const *end, uint8_t *out,
                 const uint8_t *esym, const uint32_t *einfo, const uint32_t *mslot)
{
    return run_n(4, xs, ps, end, out, esym, einfo, mslot);
}

/* The generic path: one lane at a time, same bound every four elements. */
static bool run1(uint32_t *xs, const uint8_t **ps, const uint8_t *end, uint8_t *out, uint32_t n,
                 const uint8_t *esym, const uint32_t *einfo, const uint32_t *mslot)
{
    uint32_t x = *xs;
    const uint8_t *p = *ps;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        STEPL(x, p, out);
        if ((i & 3) == 3) ok = p <= end;
    }
    *xs = x;
    *ps = p;
    return ok && p <= end;
}

/* sign_or[b]: the eight 16-bit sign masks of sign byte b. */
static uint16_t sign_or[256][8];
static pthread_once_t sign_once = PTHREAD_ONCE_INIT;
static void sign_init(void)
{
    for (unsigned b = 0; b < 256; b++)
        for (unsigned j = 0; j < 8; j++) sign_or[b][j] = (uint16_t)((b >> j & 1) << 15);
}

/* The scalar path for a group (no SIMD, or DF11_SIMD=0). */
static void run_group_scalar(df11_ans_group *g)
{
    const uint8_t *p[8], *end[8];
    for (unsigned k = 0; k < 8; k++) {
        p[k] = g->base + 2 * (size_t)g->pos[k];
        end[k] = g->base + 2 * (size_t)g->end[k];
    }
    g->bad = !run8(g->x, p, end, g->out, g->t->esym, g->t->einfo, g->t->mslot);
    for (unsigned k = 0; k < 8; k++) g->pos[k] = (uint32_t)((p[k] - g->base) / 2);
    g->done = DF11_ANS_LANE;
}

/* Groups are collected across chunks and run this many at a time, so the
 * SIMD path can pair them. */
#define GROUPS_MAX 8u

typedef struct {
    df11_ans_group g[GROUPS_MAX];
    uint32_t job[GROUPS_MAX], lane[GROUPS_MAX], nl[GROUPS_MAX]; /* for messages */
    uint32_t n;
} group_set;

/* Runs the collected groups and checks every lane's end. */
static bool flush(group_set *s, uint32_t *bad, char *why, size_t why_len)
{
    if (!df11_ans_simd_groups(s->g, s->n))
        for (uint32_t k = 0; k < s->n; k++) run_group_scalar(&s->g[k]);
    for (uint32_t k = 0; k < s->n; k++) {
        const df11_ans_group *g = &s->g[k];
        bool ok = !g->bad && g->done == DF11_ANS_LANE;
        for (unsigned j = 0; j < 8 && ok; j++) ok = g->pos[j] == g->end[j] && g->x[j] == DF11_ANS_LOW;
        if (!ok) {
            *bad = s->job[k];
            snprintf(why, why_len, "lanes %u..%u of %u do not decode to their declared lengths",
                     s->lane[k], s->lane[k] + 7, s->nl[k]);
            return false;
        }
    }
    s->n = 0;
    return true;
}

/* Lane heads and lengths of one payload; the lanes of eight full lanes go
 * to s as a group, the others are decoded here by the scalar path. */
static bool start_job(const df11_ans_job *jb, uint32_t ji, group_set *s, uint32_t *bad, char *why,
                      size_t why_len)
{
    const df11_ans_dtable *t = jb->t;
    const uint8_t *payload = jb->payload;
    uint32_t n = jb->n, payload_len = jb->payload_len;
    uint32_t nl = df11_lanes(n, DF11_ANS_LANE);
    /* df11_ans_sign_bytes: (n + 7) / 8 in 32 bits wraps to 0 for n near
     * 2^32, and a payload of lane heads alone would then pass the checks */
    uint64_t head = (uint64_t)DF11_ANS_LANE_HEAD * nl, signs = df11_ans_sign_bytes(n), words = 0;
    *bad = ji;
    if (head + signs > payload_len) {
        snprintf(why, why_len, "payload of %u bytes too short for %u elements", payload_len, n);
        return false;
    }
    for (uint32_t k = 0; k < nl; k++) words += df11_rd16(payload + 4 * (size_t)nl + 2 * k);
    if (head + 2 * words + signs != payload_len) {
        snprintf(why, why_len, "lane lengths sum to %llu words, payload holds %llu bytes for them",
                 (unsigned long long)words, (unsigned long long)(payload_len - head - signs));
        return false;
    }
    const uint8_t *stream = payload + head;
    uint8_t *out = jb->dst;
    uint32_t wpos = 0; /* words from stream */
    for (uint32_t k0 = 0; k0 < nl; k0 += 8) {
        uint32_t x[8], wp[8], we[8];
        uint32_t g = nl - k0 < 8 ? nl - k0 : 8;
        for (uint32_t j = 0; j < g; j++) {
            uint32_t k = k0 + j;
            x[j] = df11_rd32(payload + 4 * (size_t)k);
            wp[j] = wpos;
            wpos += df11_rd16(payload + 4 * (size_t)nl + 2 * k);
            we[j] = wpos;
            if (x[j] < DF11_ANS_LOW) {
                snprintf(why, why_len, "lane %u of %u starts in an impossible state", k, nl);
                return false;
            }
        }
        uint32_t full = 0; /* lanes of this group with all 16384 elements */
        while (full < g && df11_lane_len(n, DF11_ANS_LANE, k0 + full) == DF11_ANS_LANE) full++;
        if (full == 8) {
            df11_ans_group *gr = &s->g[s->n];
            gr->t = t;
            gr->base = stream;
            gr->out = out + 2 * (size_t)df11_lane_first(k0, DF11_ANS_LANE);
            memcpy(gr->x, x, sizeof x);
            memcpy(gr->pos, wp, sizeof wp);
            memcpy(gr->end, we, sizeof we);
            gr->done = 0;
            gr->bad = false;
            s->job[s->n] = ji;
            s->lane[s->n] = k0;
            s->nl[s->n] = nl;
            if (++s->n == GROUPS_MAX && !flush(s, bad, why, why_len)) return false;
            continue;
        }
        const uint8_t *p[8], *end[8];
        for (uint32_t j = 0; j < g; j++) {
            p[j] = stream + 2 * (size_t)wp[j];
            end[j] = stream + 2 * (size_t)we[j];
        }
        bool ok = true;
        uint32_t j = 0;
        if (full >= 4) {
            ok = run4(x, p, end, out + 2 * (size_t)df11_lane_first(k0, DF11_ANS_LANE), t->esym,
                      t->einfo, t->mslot);
            j = 4;
        }
        for (; j < g && ok; j++)
            ok = run1(&x[j], &p[j], end[j], out + 2 * (size_t)df11_lane_first(k0 + j, DF11_ANS_LANE),
                      df11_lane_len(n, DF11_ANS_LANE, k0 + j), t->esym, t->einfo, t->mslot);
        for (uint32_t j = 0; j < g && ok; j++) ok = p[j] == end[j] && x[j] == DF11_ANS_LOW;
        if (!ok) {
            snprintf(why, why_len, "lanes %u..%u of %u do not decode to their declared lengths", k0,
                     k0 + g - 1, nl);
            return false;
        }
    }
    return true;
}

/* Bit 15 of every element from the sign plane at the payload's end. */
static void or_signs(const df11_ans_job *jb)
{
    uint32_t n = jb->n;
    uint8_t *out = jb->dst;
    const uint8_t *sg = jb->payload + jb->payload_len - df11_ans_sign_bytes(n);
    uint32_t i = 0;
    for (; n - i >= 8; i += 8) { /* i + 8 would wrap for n near 2^32 */
        uint8_t *d = out + 2 * (size_t)i;
        uint64_t a, b, m[2];
        memcpy(m, sign_or[sg[i >> 3]], 16);
        memcpy(&a, d, 8);
        memcpy(&b, d + 8, 8);
        a |= m[0], b |= m[1];
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
    }
    for (; i < n; i++) out[2 * (size_t)i + 1] |= (uint8_t)((sg[i >> 3] >> (i & 7) & 1) << 7);
}

df11_status df11_ans_decode_many(const df11_ans_job *jobs, uint32_t count, uint32_t *bad,
                                 char *why, size_t why_len)
{
    group_set s;
    s.n = 0;
    for (uint32_t j = 0; j < count; j++)
        if (!start_job(&jobs[j], j, &s, bad, why, why_len)) return DF11_E_CORRUPT_CHUNK;
    if (s.n && !flush(&s, bad, why, why_len)) return DF11_E_CORRUPT_CHUNK;
    pthread_once(&sign_once, sign_init);
    for (uint32_t j = 0; j < count; j++) or_signs(&jobs[j]);
    return DF11_OK;
}

df11_status df11_ans_decode(const df11_ans_dtable *t, const uint8_t *payload,
                            uint32_t payload_len, uint32_t n, void *dst, char *why,
                            size_t why_len)
{
    df11_ans_job jb = { t, payload, payload_len, n, dst };
    uint32_t bad;
    return df11_ans_decode_many(&jb, 1, &bad, why, why_len);
}

/* EXP_HI (FORMAT.md 5.3): a width-2 EXP payload of the high halves, decoded
 * into the back half of dst, then widened in place front to back (element
 * i is read from byte 2n + 2i before anything is written there). */
df11_status df11_exp_hi_decode(const uint8_t *payload, uint32_t payload_len, uint32_t n,
                               uint32_t lane_symbols, const df11_huff_dtable *t, void *dst,
                               uint8_t *scratch, char *why, size_t why_len)
{
    uint8_t *d = dst;
    df11_status s = df11_exp_decode(payload, payload_len, n, 2, lane_symbols, t, d + 2 * (size_t)n,
                                    scratch, why, why_len);
    if (s != DF11_OK) return s;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, d + 2 * (size_t)n + 2 * (size_t)i, 2);
        uint32_t w = (uint32_t)v << 16;
        memcpy(d + 4 * (size_t)i, &w, 4);
    }
    return DF11_OK;
}
