/* df11_encode_fd: two streaming passes over the input, output written front
 * to back with write(2), so out_fd may be a pipe.
 *
 * Pass 1 reads every chunk once: SHA-256, the chunk's XXH3, the exponent
 * histogram of EXP chunks, and a zstd trial where zstd may win. When a
 * segment's last chunk is in, its code is built and every one of its chunks
 * gets its codec and exact payload size (an EXP size follows from the
 * histogram and the code). After pass 1 the chunk table, the index and the
 * header are therefore final: the header goes out first, then pass 2
 * encodes each chunk with the codec pass 1 chose and writes it, then the
 * index. Both passes read with pread into a bounded window of slots.
 *
 * An input that changes under us: pass 2 checks each chunk against pass 1's
 * XXH3; a short read means it shrank; after pass 2 the size is checked again
 * and one byte is read at the old end. All give DF11_E_CHANGED. */
#include "ans_model.h"
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

enum { CODEC_RAW = DF11_FMT_RAW, CODEC_ZSTD = DF11_FMT_ZSTD, CODEC_EXP = DF11_FMT_EXP,
       CODEC_ANS = DF11_FMT_ANS, CODEC_EXP_HI = DF11_FMT_EXP_HI, CODEC_ANS_IL = DF11_FMT_ANS_IL,
       CODEC_EXP_LZ = DF11_FMT_EXP_LZ, CODEC_ANS_IL_LZ = DF11_FMT_ANS_IL_LZ };
/* --max keeps eight context histograms (8 KiB) per EXP16 segment to choose
 * its mantissa tables; past this much, only for segments from
 * OWN_TABLES_MIN on (the others take the shared tables). */
#define CTX_HIST_BUDGET (64u << 20)
#define OWN_TABLES_MIN (1u << 20)
/* Segments from this many bytes on get contexts fitted to them. */
#define FITTED_CTX_MIN (1u << 17)

typedef struct {
    uint64_t orig_offset;
    uint32_t length;
    uint32_t segment;
} job;

typedef struct {
    uint8_t *in, *out, *alt;
    size_t out_len;
    uint32_t zlen;   /* pass 1: zstd payload size, 0 when not tried or no gain */
    uint32_t lzlen;  /* pass 1, --max, EXP32: EXP_LZ's low-plane frame size, 0 when not tried */
    uint8_t lzeffort; /* and the effort (LZ_FAST, LZ_THOROUGH) that gave it */
    bool low_zero;   /* pass 1, EXP32: every low half is zero */
    uint64_t xxh3;
    uint64_t freq[256];
    uint32_t *joint; /* --max, EXP16 (and EXP32 upper halves for ANS_IL): (exponent, mantissa) histogram, 256 x 128 */
    bool ans;        /* --max, written directly: out holds the ANS(_IL) payload */
} slot;

typedef struct {
    const char *in_name, *out_name;
    int in_fd, out_fd;
    uint64_t size;
    df11_encode_options o;
    df11_plan plan;
    uint32_t *first_chunk;
    job *jobs;
    uint64_t njobs;
    uint64_t (*freq)[256];
    uint8_t (*len)[256];
    uint16_t (*code)[256];
    slot *slots;
    unsigned window;
    ZSTD_CCtx **cctx;
    EVP_MD_CTX *sha;
    /* The chunk table in wire form. Pass 1 fills it (XXH3, codec, size,
     * offset); pass 2 checks what it reads and encodes against it. */
    df11_fmt_chunk *chunks;     /* the chunk table, packed by container.c */
    /* Pass 1: per-chunk exponent histograms and zstd sizes of the segment
     * in progress, until its code is known. 1 KiB per chunk of the
     * largest segment (0.4% of it at 256 KiB chunks). */
    uint32_t (*pend_freq)[256];
    uint32_t *pend_zlen, *pend_lzlen;
    uint8_t *pend_low_zero;
    uint8_t *lz_effort;   /* per chunk: the effort of its EXP_LZ planes */
    bool max;             /* --max: an ANS codec for BF16 and F16 */
    /* --max: which one, CODEC_ANS_IL (FORMAT.md 10) or, through the
     * DF11_ANS_CODEC=3 test hook (ans_codec_of), CODEC_ANS (9) */
    uint8_t ans_codec;
    /* ANS_IL lane states carry signs (FORMAT.md 10.1, flag IL_SIGNS);
     * false only through the DF11_ANS_CODEC=5 test hook */
    bool il_signs;
    /* --max: the segment in progress' joint histogram; per segment the
     * most common exponent and (large ones) eight context histograms; the
     * context histograms of all EXP16 segments; the tables chosen. */
    uint64_t *seg_joint;
    uint8_t *mode;
    uint64_t **sctx;
    uint64_t gctx[DF11_ANS_CONTEXTS][128];
    df11_ans_book book;
    uint32_t *seg_model;
    df11_ans_enc *enc;
    uint16_t **ans_tmp;
    uint8_t **hi_tmp;     /* --max, per worker: an F32 chunk's upper halves (ANS_IL_LZ) */
    uint64_t ctx_hist_bytes;
    uint32_t *alt;        /* --max: per chunk the best size without ANS */
    uint8_t *alt_codec;
    uint64_t out_pos, done;
    df11_error *err;
    pthread_mutex_t err_lock;
} encoder;

static df11_status fail_locked(encoder *e, df11_status s, df11_error *local)
{
    df11_error_keep_first(&e->err_lock, e->err, local);
    return s;
}

static df11_status changed(encoder *e, uint64_t off, const char *what)
{
    df11_error local;
    df11_status s = df11_fail(&local, DF11_E_CHANGED,
                              "%s: offset %llu: input changed while it was being compressed (%s)",
                              e->in_name, (unsigned long long)off, what);
    return fail_locked(e, s, &local);
}

/* The size was fixed at the start: a file that ends early has shrunk. */
static df11_status read_job(encoder *e, uint64_t i, slot *sl)
{
    df11_error local = {0};
    df11_status s = df11_fd_read_exact(e->in_fd, e->in_name, sl->in, e->jobs[i].length,
                                       e->jobs[i].orig_offset, &local);
    if (s == DF11_E_TRUNCATED) return changed(e, e->jobs[i].orig_offset, "it got shorter");
    return s == DF11_OK ? s : fail_locked(e, s, &local);
}

static unsigned width_of(uint8_t kind) { return kind == DF11_SEG_EXP32 ? 4 : 2; }

/* Order-0 entropy of the sign/mantissa bytes: real weights sit near 8 bits,
 * so zstd is only worth trying when this is clearly lower. */
static double raw_plane_entropy(const uint8_t *src, uint32_t n, unsigned w)
{
    uint32_t h[256] = {0};
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *q = src + (size_t)i * w + w - 2;
        h[(q[1] & 0x80) | (q[0] & 0x7F)]++;
    }
    double bits = 0;
    for (int s = 0; s < 256; s++)
        if (h[s]) bits -= h[s] * log2((double)h[s] / n);
    return n ? bits / n : 0;
}

/* The bits of the F32 elements' low halves that no element sets and the
 * bits every element sets: all zero for BF16 values widened to F32
 * (EXP_HI), the 13 low bits zero for F16 or TF32 values widened. */
static void low_halves_bits(const uint8_t *src, uint32_t n, uint16_t *any, uint16_t *all)
{
    uint16_t o = 0, a = 0xFFFF;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, src + 4 * (size_t)i, 2);
        o |= v;
        a &= v;
    }
    *any = o;
    *all = a;
}

/* F32 low halves with at least this many bits the same in every element
 * are structure that EXP (which stores them raw) cannot use, and zstd
 * can: F16 values widened to F32 take 83% as EXP, 59% as zstd -3. */
#define LOW_CONSTANT_BITS_MIN 4

/* --max squeezes the file's first chunk, the safetensors header (JSON, a
 * few KB to a few hundred), at zstd 19: GPT-2's 14.5 KB header takes
 * 1,516 bytes instead of 2,073 at level 3, for a few milliseconds once. */
#define MAX_HEADER_LEVEL 19

static size_t zstd_chunk(encoder *e, unsigned worker, slot *sl, uint64_t i)
{
    uint32_t length = e->jobs[i].length;
    int level = e->max && i == 0 && e->plan.segs[e->jobs[i].segment].kind == DF11_SEG_BYTES
                    ? MAX_HEADER_LEVEL
                    : e->o.zstd_level;
    size_t z = ZSTD_compressCCtx(e->cctx[worker], sl->alt, ZSTD_compressBound(length), sl->in,
                                 length, level);
    return ZSTD_isError(z) ? 0 : z;
}

/* EXP_LZ's low planes (FORMAT.md 5.4) are compressed with parameters
 * for planes of like bytes rather than a level: matches of 7 bytes and
 * more only (runs of zeros in rows or in widened values; shorter ones in
 * noise cost more than the literals they replace). Every F32 chunk tries
 * the fast effort (dfast); one that it shrinks also tries the thorough
 * one (btopt), which finds more where structured rows and noise mix, and
 * keeps the smaller. Bytes of the planes (python-zstandard, 2^18-byte
 * chunks): F16 values widened to F32, 32 MB: level 3 3.45 MB, fast 3.01,
 * thorough 3.02, level 19 3.02 (1.6 s); MiniLM's F32 weights: level 3
 * 44.22 MB, fast 44.19, thorough 44.16, level 19 44.13 (2.8 s). Level 19
 * would cost the F16-widened file 10 MB/s of encoding. */
enum { LZ_FAST = 1, LZ_THOROUGH = 2 };

/* EXP_LZ's low planes of n F32 elements at src: the low byte of every
 * element's low half, then the high byte of every one, as one zstd frame
 * into dst (cap bytes); planes is 2n bytes of scratch. Its size, 0 on
 * failure. */
static size_t lz_planes(encoder *e, unsigned worker, const uint8_t *src, uint32_t n, uint8_t *planes,
                        uint8_t *dst, size_t cap, int effort)
{
    for (uint32_t i = 0; i < n; i++) {
        planes[i] = src[4 * (size_t)i];
        planes[n + i] = src[4 * (size_t)i + 1];
    }
    ZSTD_CCtx *c = e->cctx[worker];
    const int p[][2] = {
        {ZSTD_c_strategy, effort == LZ_FAST ? ZSTD_dfast : ZSTD_btopt},
        {ZSTD_c_minMatch, 7}, {ZSTD_c_windowLog, 17}, {ZSTD_c_hashLog, 17},
        {ZSTD_c_chainLog, 16}, {ZSTD_c_searchLog, 1}, {ZSTD_c_targetLength, 16},
    };
    if (ZSTD_isError(ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters))) return 0;
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
        if (ZSTD_isError(ZSTD_CCtx_setParameter(c, (ZSTD_cParameter)p[k][0], p[k][1]))) return 0;
    size_t z = ZSTD_compress2(c, dst, cap, planes, 2 * (size_t)n);
    return ZSTD_isError(z) ? 0 : z;
}

/* The rest of an EXP_LZ or ANS_IL_LZ payload at out (cap bytes) whose
 * upper part, hi bytes, is written at out + 4: its length word, and the
 * planes of the n elements at src after it (planes: 2n bytes of scratch).
 * The payload's size, 0 on failure. */
static size_t lz_payload(encoder *e, unsigned worker, const uint8_t *src, uint32_t n, size_t hi,
                         uint8_t *planes, uint8_t *out, size_t cap, int effort)
{
    size_t z = lz_planes(e, worker, src, n, planes, out + 4 + hi, cap - 4 - hi, effort);
    if (!z) return 0;
    df11_wr32(out, (uint32_t)hi);
    return 4 + hi + z;
}

/* --max: whether a segment of this kind gets a model, so pass 1 keeps
 * its (exponent, mantissa) histogram: EXP16, and with ANS_IL the upper
 * halves of EXP32 (ANS_IL_LZ chunks, FORMAT.md 5.4). */
static bool joint_of(const encoder *e, uint8_t kind)
{
    return e->max && (kind == DF11_SEG_EXP16 || (kind == DF11_SEG_EXP32 && e->ans_codec == CODEC_ANS_IL));
}

static df11_status pass1_work(uint64_t i, unsigned worker, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    df11_status s = read_job(e, i, sl);
    if (s != DF11_OK) return s;
    const job *j = &e->jobs[i];
    sl->xxh3 = df11_xxh3_64(sl->in, j->length);
    uint8_t kind = e->plan.segs[j->segment].kind;
    bool try_zstd = true;
    if (kind != DF11_SEG_BYTES) {
        unsigned w = width_of(kind);
        memset(sl->freq, 0, sizeof sl->freq);
        if (joint_of(e, kind)) {
            /* the exponent histogram is the joint one's row sums */
            memset(sl->joint, 0, 256 * 128 * sizeof *sl->joint);
            for (uint32_t k = 0; k < j->length / w; k++)
                sl->joint[df11_rd16(sl->in + w * (size_t)k + w - 2) & 0x7FFF]++;
            for (unsigned x = 0; x < 256; x++) {
                uint32_t t = 0;
                for (unsigned m = 0; m < 128; m++) t += sl->joint[x * 128 + m];
                sl->freq[x] = t;
            }
        } else {
            df11_exp_histogram(sl->in, j->length / w, w, sl->freq);
        }
        try_zstd = raw_plane_entropy(sl->in, j->length / w, w) < 7.0;
        if (kind == DF11_SEG_EXP32) {
            uint16_t any, all;
            low_halves_bits(sl->in, j->length / 4, &any, &all);
            sl->low_zero = any == 0;
            /* all zero is EXP_HI's, which beats zstd there */
            if (!sl->low_zero && __builtin_popcount((uint16_t)(~any | all)) >= LOW_CONSTANT_BITS_MIN)
                try_zstd = true;
        }
    }
    /* --max: F32 low halves that are not all zero (EXP_HI's) also try
     * EXP_LZ; out is free in pass 1, alt once zstd's trial is over */
    sl->lzlen = 0, sl->lzeffort = 0;
    bool try_lz = e->max && kind == DF11_SEG_EXP32 && !sl->low_zero;
    sl->zlen = 0;
    if (try_zstd) {
        size_t z = zstd_chunk(e, worker, sl, i);
        if (z && z < j->length) sl->zlen = (uint32_t)z;
    }
    if (try_lz) {
        size_t C = (size_t)1 << e->o.chunk_log2;
        size_t z = lz_planes(e, worker, sl->in, j->length / 4, sl->out, sl->alt, ZSTD_compressBound(C), LZ_FAST);
        if (z && z < j->length / 2) {
            sl->lzlen = (uint32_t)z, sl->lzeffort = LZ_FAST;
            z = lz_planes(e, worker, sl->in, j->length / 4, sl->out, sl->alt, ZSTD_compressBound(C), LZ_THOROUGH);
            if (z && z < sl->lzlen) sl->lzlen = (uint32_t)z, sl->lzeffort = LZ_THOROUGH;
        }
    }
    return DF11_OK;
}

/* Segment g's last chunk has passed pass 1: build its code, then give each
 * of its chunks the smallest of EXP, ZSTD and RAW (ties in that order, as
 * before) and its place in the output. */
static void plan_segment(encoder *e, uint32_t g)
{
    const df11_plan_seg *seg = &e->plan.segs[g];
    if (seg->kind != DF11_SEG_BYTES) {
        df11_huff_lengths(e->freq[g], e->len[g]);
        df11_huff_canonical(e->len[g], e->code[g]);
    }
    uint64_t first = e->first_chunk[g];
    uint64_t end = g + 1 < e->plan.count ? e->first_chunk[g + 1] : e->njobs;
    for (uint64_t i = first; i < end; i++) {
        uint32_t length = e->jobs[i].length, best = length;
        uint8_t codec = CODEC_RAW;
        if (seg->kind != DF11_SEG_BYTES) {
            unsigned w = width_of(seg->kind);
            size_t n = df11_exp_size(e->pend_freq[i - first], length / w, w,
                                     DF11_LANE_SYMBOLS_DEFAULT, e->len[g]);
            if (n && n < best) best = (uint32_t)n, codec = CODEC_EXP;
            /* BF16 widened to F32: the same payload without the low plane */
            if (n && w == 4 && e->pend_low_zero[i - first] && n - length / 2 < best) {
                best = (uint32_t)(n - length / 2), codec = CODEC_EXP_HI;
            }
            /* --max: the same with the low halves as zstd-coded planes */
            uint32_t lz = e->pend_lzlen[i - first];
            if (n && w == 4 && lz && 4 + (n - length / 2) + lz < best) {
                best = (uint32_t)(4 + (n - length / 2) + lz), codec = CODEC_EXP_LZ;
            }
        }
        uint32_t z = e->pend_zlen[i - first];
        if (z && z < best) best = z, codec = CODEC_ZSTD;
        df11_fmt_chunk *c = &e->chunks[i];
        c->payload_length = best;
        c->codec = codec;
        /* --max lays chunks out after the ANS sizing pass */
        if (!e->max) {
            c->payload_offset = e->out_pos;
            e->out_pos += best;
        }
    }
}

/* --max, at the end of an EXP16 segment: its joint histogram folded into
 * contexts. A segment that keeps its own histograms and is large enough to
 * pay for the search gets contexts fitted to it (ans_ctx.c, ~0.5 ms);
 * the others take them around their most common exponent. */
static df11_status fold_segment(encoder *e, uint32_t g)
{
    unsigned mode = 0;
    for (unsigned x = 1; x < 256; x++)
        if (e->freq[g][x] > e->freq[g][mode]) mode = x;
    e->mode[g] = (uint8_t)mode;
    uint64_t *own = NULL, bytes = DF11_ANS_SCTX_WORDS * sizeof *own;
    uint8_t map[256];
    for (unsigned x = 0; x < 256; x++) map[x] = df11_ans_ctx_of((int)x, (int)mode);
    if (e->plan.segs[g].length >= OWN_TABLES_MIN || e->ctx_hist_bytes + bytes <= CTX_HIST_BUDGET) {
        if (!(own = e->sctx[g] = calloc(DF11_ANS_SCTX_WORDS, sizeof *own))) return DF11_E_NOMEM;
        e->ctx_hist_bytes += bytes;
        if (e->plan.segs[g].length >= FITTED_CTX_MIN) df11_ans_ctx_map(e->seg_joint, map);
        memcpy(own + DF11_ANS_CONTEXTS * 128, map, 256);
    }
    for (unsigned x = 0; x < 256; x++) {
        unsigned c = map[x];
        for (unsigned m = 0; m < 128; m++) {
            uint64_t v = e->seg_joint[x * 128 + m];
            e->gctx[c][m] += v;
            if (own) own[c * 128 + m] += v;
        }
    }
    memset(e->seg_joint, 0, 256 * 128 * sizeof *e->seg_joint);
    return DF11_OK;
}

static df11_status pass1_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    const job *j = &e->jobs[i];
    uint64_t k = i - e->first_chunk[j->segment];
    if (e->plan.segs[j->segment].kind != DF11_SEG_BYTES)
        for (int s = 0; s < 256; s++) {
            e->freq[j->segment][s] += sl->freq[s];
            e->pend_freq[k][s] = (uint32_t)sl->freq[s];
        }
    e->pend_zlen[k] = sl->zlen;
    e->pend_lzlen[k] = sl->lzlen;
    e->lz_effort[i] = sl->lzeffort;
    e->pend_low_zero[k] = sl->low_zero;
    bool joint = joint_of(e, e->plan.segs[j->segment].kind);
    if (joint)
        for (unsigned v = 0; v < 256 * 128; v++) e->seg_joint[v] += sl->joint[v];
    e->chunks[i].xxh3 = sl->xxh3;
    EVP_DigestUpdate(e->sha, sl->in, j->length);
    if (i + 1 == e->njobs || e->jobs[i + 1].segment != j->segment) {
        plan_segment(e, j->segment);
        if (joint && fold_segment(e, j->segment) != DF11_OK) return DF11_E_NOMEM;
    }
    e->done += j->length;
    if (e->o.progress) e->o.progress(e->o.progress_ctx, e->done / 2, e->size);
    return DF11_OK;
}

static df11_status pass2_emit(uint64_t i, void *ctx);

/* Chunk i (n elements at src) with the --max codec of the file into out
 * (the slot's 2C + 64 bytes): its payload size, 0 when it cannot. */
static size_t ans_chunk(encoder *e, uint64_t i, unsigned worker, const uint8_t *src, uint8_t *out)
{
    const job *j = &e->jobs[i];
    const df11_ans_enc *m = &e->enc[e->seg_model[j->segment] - 1];
    size_t cap = 2 * ((size_t)1 << e->o.chunk_log2) + 64;
    if (e->plan.segs[j->segment].kind == DF11_SEG_EXP32) {
        /* ANS_IL_LZ: length word, the upper halves as ANS_IL, the planes
         * as EXP_LZ's (the effort pass 1 found, else the fast one) */
        uint32_t n = j->length / 4;
        uint8_t *hi = e->hi_tmp[worker];
        for (uint32_t k = 0; k < n; k++) memcpy(hi + 2 * (size_t)k, src + 4 * (size_t)k + 2, 2);
        size_t a = df11_ans_il_encode(hi, n, m, e->il_signs, out + 4, cap - 4);
        return a ? lz_payload(e, worker, src, n, a, hi, out, cap, e->lz_effort[i] ? e->lz_effort[i] : LZ_FAST) : 0;
    }
    if (e->ans_codec == CODEC_ANS_IL) return df11_ans_il_encode(src, j->length / 2, m, e->il_signs, out, cap);
    return df11_ans_encode(src, j->length / 2, m, out, cap, e->ans_tmp[worker]);
}

/* Chunk i, read into sl, encoded with the codec pass 1 chose into
 * sl->out, at the size pass 1 computed. */
static df11_status encode_chosen(encoder *e, uint64_t i, unsigned worker, slot *sl)
{
    const job *j = &e->jobs[i];
    const df11_fmt_chunk *c = &e->chunks[i];
    df11_status s;
    uint32_t want = c->payload_length;
    uint8_t kind = e->plan.segs[j->segment].kind;
    switch (c->codec) {
    case CODEC_EXP: {
        unsigned w = width_of(kind);
        sl->out_len = df11_exp_encode(sl->in, j->length / w, w, DF11_LANE_SYMBOLS_DEFAULT,
                                      e->len[j->segment], e->code[j->segment], sl->out,
                                      2 * ((size_t)1 << e->o.chunk_log2) + 64);
        break;
    }
    case CODEC_EXP_HI: /* an EXP payload of width 4 less its trailing low plane */
        sl->out_len = df11_exp_encode(sl->in, j->length / 4, 4, DF11_LANE_SYMBOLS_DEFAULT,
                                      e->len[j->segment], e->code[j->segment], sl->out,
                                      2 * ((size_t)1 << e->o.chunk_log2) + 64);
        if (sl->out_len) sl->out_len -= j->length / 2;
        break;
    case CODEC_EXP_LZ: { /* length word, that EXP_HI payload, the low planes */
        size_t cap = 2 * ((size_t)1 << e->o.chunk_log2) + 64, n = j->length / 4;
        size_t x = df11_exp_encode(sl->in, (uint32_t)n, 4, DF11_LANE_SYMBOLS_DEFAULT, e->len[j->segment],
                                   e->code[j->segment], sl->out + 4, cap - 4);
        sl->out_len = x ? lz_payload(e, worker, sl->in, (uint32_t)n, x - 2 * n, sl->alt, sl->out, cap, e->lz_effort[i]) : 0;
        break;
    }
    case CODEC_ANS:
    case CODEC_ANS_IL:
    case CODEC_ANS_IL_LZ:
        sl->out_len = ans_chunk(e, i, worker, sl->in, sl->out);
        break;
    case CODEC_ZSTD: {
        sl->out_len = zstd_chunk(e, worker, sl, i);
        uint8_t *t = sl->out;
        sl->out = sl->alt;
        sl->alt = t;
        break;
    }
    default:
        memcpy(sl->out, sl->in, j->length);
        sl->out_len = j->length;
    }
    if (sl->out_len != want) { /* same bytes, same code, same zstd level */
        df11_error local;
        s = df11_fail(&local, DF11_E_INTERNAL,
                      "%s: offset %llu: chunk encoded to %zu bytes in pass 2, %u in pass 1",
                      e->in_name, (unsigned long long)j->orig_offset, sl->out_len, want);
        return fail_locked(e, s, &local);
    }
    return DF11_OK;
}

/* Reads chunk i again and checks it is what pass 1 saw. */
static df11_status reread(encoder *e, uint64_t i, slot *sl)
{
    df11_status s = read_job(e, i, sl);
    if (s != DF11_OK) return s;
    if (df11_xxh3_64(sl->in, e->jobs[i].length) != e->chunks[i].xxh3)
        return changed(e, e->jobs[i].orig_offset, "its bytes differ between the two passes");
    return DF11_OK;
}

static df11_status pass2_work(uint64_t i, unsigned worker, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    df11_status s = reread(e, i, sl);
    return s == DF11_OK ? encode_chosen(e, i, worker, sl) : s;
}

/* --max: between the passes, every chunk of a segment with a model is
 * ANS-encoded once to learn its exact size (discarded), and then every
 * chunk is laid out with the smallest codec. */
static df11_status size_work(uint64_t i, unsigned worker, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    const job *j = &e->jobs[i];
    sl->out_len = 0;
    uint32_t model = e->seg_model[j->segment];
    if (!model) return DF11_OK;
    df11_status s = reread(e, i, sl);
    if (s != DF11_OK) return s;
    sl->out_len = ans_chunk(e, i, worker, sl->in, sl->out);
    return DF11_OK;
}

/* Chunk i takes ANS when its ANS payload (ans bytes, 0 for none) is
 * smaller than what pass 1 chose, which is kept for ans_settle. Returns
 * whether it does. */
static bool take_ans(encoder *e, uint64_t i, size_t ans)
{
    df11_fmt_chunk *c = &e->chunks[i];
    e->alt[i] = c->payload_length;
    e->alt_codec[i] = c->codec;
    if (!ans || ans >= c->payload_length) return false;
    c->payload_length = (uint32_t)ans;
    c->codec = e->plan.segs[e->jobs[i].segment].kind == DF11_SEG_EXP32 ? CODEC_ANS_IL_LZ : e->ans_codec;
    return true;
}

static df11_status size_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    take_ans(e, i, e->slots[i % e->window].out_len);
    e->chunks[i].payload_offset = e->out_pos;
    e->out_pos += e->chunks[i].payload_length;
    return DF11_OK;
}

/* --max into a file that can be written at any offset: the sizing pass
 * and pass 2 in one. Each chunk is ANS-encoded once and written with the
 * smaller codec at once; the header goes in last, at the start. Same
 * decisions in the same order, so the same bytes as the other path (which
 * a pipe needs: it ANS-encodes every chunk twice). */
static df11_status direct_work(uint64_t i, unsigned worker, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    const job *j = &e->jobs[i];
    df11_status s = reread(e, i, sl);
    if (s != DF11_OK) return s;
    sl->ans = false;
    uint32_t model = e->seg_model[j->segment];
    if (model) {
        size_t a = ans_chunk(e, i, worker, sl->in, sl->alt);
        if (a && a < e->chunks[i].payload_length) {
            uint8_t *t = sl->out;
            sl->out = sl->alt, sl->alt = t;
            sl->out_len = a, sl->ans = true;
            return DF11_OK;
        }
    }
    return encode_chosen(e, i, worker, sl);
}

static df11_status direct_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    take_ans(e, i, sl->ans ? sl->out_len : 0);
    e->chunks[i].payload_offset = e->out_pos;
    return pass2_emit(i, ctx);
}

static df11_status ans_prepare(encoder *e, unsigned threads)
{
    uint32_t ns = e->plan.count;
    uint8_t *kind = malloc(ns ? ns : 1);
    e->seg_model = calloc(ns ? ns : 1, sizeof *e->seg_model);
    e->ans_tmp = calloc(threads, sizeof *e->ans_tmp);
    e->hi_tmp = calloc(threads, sizeof *e->hi_tmp);
    e->alt = calloc(e->njobs ? e->njobs : 1, sizeof *e->alt);
    e->alt_codec = calloc(e->njobs ? e->njobs : 1, 1);
    if (!kind || !e->seg_model || !e->ans_tmp || !e->hi_tmp || !e->alt || !e->alt_codec) {
        free(kind);
        return DF11_E_NOMEM;
    }
    for (uint32_t g = 0; g < ns; g++) kind[g] = e->plan.segs[g].kind;
    df11_status s = df11_ans_plan(ns, kind, (const uint64_t(*)[256])e->freq, e->mode, e->sctx,
                                  (const uint64_t(*)[128])e->gctx, &e->book, e->seg_model,
                                  e->ans_codec == CODEC_ANS_IL);
    free(kind);
    if (s != DF11_OK) return s;
    e->enc = calloc(e->book.nmodels ? e->book.nmodels : 1, sizeof *e->enc);
    if (!e->enc) return DF11_E_NOMEM;
    for (uint32_t m = 0; m < e->book.nmodels; m++) df11_ans_enc_build(&e->book, m, &e->enc[m]);
    /* ANS_IL stages its words in the output slot */
    for (unsigned t = 0; e->ans_codec == CODEC_ANS && t < threads; t++)
        if (!(e->ans_tmp[t] = malloc(DF11_ANS_TMP_WORDS * sizeof(uint16_t)))) return DF11_E_NOMEM;
    /* an F32 chunk's upper halves, then its planes: half a chunk */
    for (unsigned t = 0; e->ans_codec == CODEC_ANS_IL && t < threads; t++)
        if (!(e->hi_tmp[t] = malloc(((size_t)1 << e->o.chunk_log2) / 2))) return DF11_E_NOMEM;
    return DF11_OK;
}

/* A segment none of whose chunks is EXP (or EXP_HI or EXP_LZ, which code
 * F32 upper halves with it) never has its Huffman code read,
 * but the format wants a valid one (FORMAT.md 3): all lengths 8, the same
 * 128 bytes in every such segment, cost the compressed index nearly
 * nothing where each tensor's own code took ~7 bytes (GPT-2: 1.2 KB). */
static void plain_codes(encoder *e)
{
    for (uint32_t g = 0; g < e->plan.count; g++) {
        if (!e->seg_model[g]) continue;
        uint64_t end = g + 1 < e->plan.count ? e->first_chunk[g + 1] : e->njobs;
        bool exp = false;
        for (uint64_t i = e->first_chunk[g]; i < end; i++) {
            uint8_t c = e->chunks[i].codec;
            exp |= c == CODEC_EXP || c == CODEC_EXP_HI || c == CODEC_EXP_LZ;
        }
        if (!exp) memset(e->len[g], 8, 256);
    }
}

/* After the sizing pass: the tables and models of segments that use ANS,
 * and ANS at all only if its chunks save more than its records cost in
 * the compressed index (a small file may not pay for them); *dropped
 * says the chunks went back to what pass 1 chose. */
static df11_status ans_settle(encoder *e, bool *dropped)
{
    *dropped = false;
    uint32_t ns = e->plan.count;
    bool *uses = calloc(ns ? ns : 1, sizeof *uses);
    if (!uses) return DF11_E_NOMEM;
    uint64_t saved = 0;
    bool any = false;
    for (uint64_t i = 0; i < e->njobs; i++) {
        const df11_fmt_chunk *c = &e->chunks[i];
        if (!(df11_fmt_codec_flags(c->codec) & DF11_FMT_FLAGS_MODELS)) continue;
        uses[e->jobs[i].segment] = any = true;
        saved += e->alt[i] - c->payload_length;
    }
    df11_status s = df11_ans_prune(&e->book, ns, e->seg_model, uses);
    free(uses);
    if (s != DF11_OK || !any) return s;
    /* pass 2's encoder tables, by the models' new numbers */
    for (uint32_t m = 0; m < e->book.nmodels; m++) df11_ans_enc_build(&e->book, m, &e->enc[m]);
    size_t cost = 0;
    if (df11_ans_book_zsize(&e->book, &cost) != DF11_OK) return DF11_E_NOMEM;
    /* segment model fields, a few bytes more each once compressed */
    cost += 4 * (size_t)e->book.nmodels;
    if (saved > cost) {
        plain_codes(e);
        return DF11_OK;
    }
    *dropped = true;
    e->out_pos = DF11_HEADER_SIZE;
    for (uint64_t i = 0; i < e->njobs; i++) {
        df11_fmt_chunk *c = &e->chunks[i];
        c->codec = e->alt_codec[i];
        c->payload_length = e->alt[i];
        c->payload_offset = e->out_pos;
        e->out_pos += e->alt[i];
    }
    return DF11_OK;
}

static df11_status write_out(encoder *e, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(e->out_fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            df11_error local;
            df11_status s = df11_fail(&local, DF11_E_IO, "%s: offset %llu: write failed: %s",
                                      e->out_name, (unsigned long long)e->out_pos,
                                      strerror(n < 0 ? errno : ENOSPC));
            return fail_locked(e, s, &local);
        }
        p += n;
        len -= (size_t)n;
        e->out_pos += (uint64_t)n;
    }
    return DF11_OK;
}

static df11_status pass2_emit(uint64_t i, void *ctx)
{
    encoder *e = ctx;
    slot *sl = &e->slots[i % e->window];
    df11_status s = write_out(e, sl->out, sl->out_len);
    if (s != DF11_OK) return s;
    e->done += e->jobs[i].length;
    if (e->o.progress) e->o.progress(e->o.progress_ctx, e->size / 2 + e->done / 2, e->size);
    return DF11_OK;
}

/* After the last read: the same size, and nothing past the old end. */
static df11_status check_unchanged_size(encoder *e)
{
    struct stat st;
    if (fstat(e->in_fd, &st) != 0)
        return df11_fail(e->err, DF11_E_IO, "%s: stat failed: %s", e->in_name, strerror(errno));
    if ((uint64_t)st.st_size != e->size)
        return changed(e, e->size, (uint64_t)st.st_size > e->size ? "it grew" : "it got shorter");
    uint8_t b;
    ssize_t n;
    while ((n = pread(e->in_fd, &b, 1, (off_t)e->size)) < 0 && errno == EINTR) {
    }
    if (n < 0)
        return df11_fail(e->err, DF11_E_IO, "%s: offset %llu: read failed: %s", e->in_name,
                         (unsigned long long)e->size, strerror(errno));
    return n == 0 ? DF11_OK : changed(e, e->size, "it grew");
}

static df11_status make_jobs(encoder *e)
{
    uint64_t C = 1ull << e->o.chunk_log2, n = 0, most = 1;
    for (uint32_t s = 0; s < e->plan.count; s++) {
        uint64_t k = (e->plan.segs[s].length + C - 1) / C;
        n += k;
        if (k > most) most = k;
    }
    /* the decoder caps the index at 1 GiB (FORMAT.md 2 / reader_open.c) */
    if (n * DF11_CHUNK_ENTRY_SIZE + (uint64_t)e->plan.count * DF11_SEGMENT_ENTRY_SIZE > (1ull << 30))
        return df11_fail(e->err, DF11_E_ARG, "%s: too many chunks (%llu); use a larger chunk size",
                         e->in_name, (unsigned long long)n);
    e->njobs = n;
    e->jobs = calloc(n ? n : 1, sizeof *e->jobs);
    e->first_chunk = calloc(e->plan.count ? e->plan.count : 1, sizeof *e->first_chunk);
    e->pend_freq = calloc(most, sizeof *e->pend_freq);
    e->pend_zlen = calloc(most, sizeof *e->pend_zlen);
    e->pend_lzlen = calloc(most, sizeof *e->pend_lzlen);
    e->lz_effort = calloc(n ? n : 1, 1);
    e->pend_low_zero = calloc(most, 1);
    if (!e->jobs || !e->first_chunk || !e->pend_freq || !e->pend_zlen || !e->pend_lzlen || !e->lz_effort || !e->pend_low_zero)
        return DF11_E_NOMEM;
    uint64_t k = 0;
    for (uint32_t s = 0; s < e->plan.count; s++) {
        const df11_plan_seg *g = &e->plan.segs[s];
        e->first_chunk[s] = (uint32_t)k;
        for (uint64_t off = 0; off < g->length; off += C)
            e->jobs[k++] = (job){g->offset + off, (uint32_t)(g->length - off < C ? g->length - off : C), s};
    }
    return DF11_OK;
}

static df11_status alloc_state(encoder *e, unsigned threads)
{
    size_t C = (size_t)1 << e->o.chunk_log2, cap = 2 * C + 64;
    size_t zcap = ZSTD_compressBound(C);
    if (zcap < cap) zcap = cap;
    e->window = 4 * threads;
    e->slots = calloc(e->window, sizeof *e->slots);
    e->cctx = calloc(threads, sizeof *e->cctx);
    uint32_t ns = e->plan.count ? e->plan.count : 1;
    e->freq = calloc(ns, sizeof *e->freq);
    e->len = calloc(ns, sizeof *e->len);
    e->code = calloc(ns, sizeof *e->code);
    e->chunks = calloc(e->njobs ? e->njobs : 1, sizeof *e->chunks);
    e->sha = EVP_MD_CTX_new();
    if (!e->slots || !e->cctx || !e->freq || !e->len || !e->code || !e->chunks || !e->sha)
        return DF11_E_NOMEM;
    for (unsigned i = 0; i < e->window; i++) {
        e->slots[i].in = malloc(C);
        e->slots[i].out = malloc(zcap);
        e->slots[i].alt = malloc(zcap);
        if (!e->slots[i].in || !e->slots[i].out || !e->slots[i].alt) return DF11_E_NOMEM;
    }
    for (unsigned t = 0; t < threads; t++)
        if (!(e->cctx[t] = ZSTD_createCCtx())) return DF11_E_NOMEM;
    if (e->max) {
        e->seg_joint = calloc(256 * 128, sizeof *e->seg_joint);
        e->mode = calloc(ns, 1);
        e->sctx = calloc(ns, sizeof *e->sctx);
        if (!e->seg_joint || !e->mode || !e->sctx) return DF11_E_NOMEM;
        for (unsigned i = 0; i < e->window; i++)
            if (!(e->slots[i].joint = malloc(256 * 128 * sizeof(uint32_t)))) return DF11_E_NOMEM;
    }
    return EVP_DigestInit_ex(e->sha, EVP_sha256(), NULL) == 1 ? DF11_OK : DF11_E_INTERNAL;
}

static void free_state(encoder *e, unsigned threads)
{
    for (unsigned i = 0; e->slots && i < e->window; i++) {
        free(e->slots[i].in);
        free(e->slots[i].out);
        free(e->slots[i].alt);
        free(e->slots[i].joint);
    }
    for (uint32_t g = 0; e->sctx && g < e->plan.count; g++) free(e->sctx[g]);
    for (unsigned t = 0; e->ans_tmp && t < threads; t++) free(e->ans_tmp[t]);
    for (unsigned t = 0; e->hi_tmp && t < threads; t++) free(e->hi_tmp[t]);
    free(e->hi_tmp);
    free(e->sctx);
    free(e->ans_tmp);
    free(e->seg_joint);
    free(e->mode);
    free(e->seg_model);
    free(e->enc);
    free(e->alt);
    free(e->alt_codec);
    df11_ans_book_free(&e->book);
    free(e->pend_low_zero);
    for (unsigned t = 0; e->cctx && t < threads; t++) ZSTD_freeCCtx(e->cctx[t]);
    free(e->slots);
    free(e->cctx);
    free(e->freq);
    free(e->len);
    free(e->code);
    free(e->chunks);
    free(e->pend_freq);
    free(e->pend_zlen);
    free(e->pend_lzlen);
    free(e->lz_effort);
    free(e->jobs);
    free(e->first_chunk);
    EVP_MD_CTX_free(e->sha);
    df11_plan_free(&e->plan);
}

/* The index once every chunk's codec and size is known, and the header
 * that points at it from index_offset. Its flags are the features the
 * chunks' final codecs need (FORMAT.md 8): a flag for a codec no chunk
 * ended up with would make older readers refuse the file for nothing. */
static df11_status index_and_header(encoder *e, const uint8_t sha[32], uint64_t index_offset,
                                    df11_index_blob *ix, uint8_t h[DF11_HEADER_SIZE])
{
    uint32_t flags = 0;
    for (uint64_t i = 0; i < e->njobs; i++) flags |= df11_fmt_codec_flags(e->chunks[i].codec);
    if ((flags & DF11_FMT_FLAG_ANS_IL) && e->il_signs) flags |= DF11_FMT_FLAG_IL_SIGNS;
    /* tables only travel in files that use them */
    const df11_ans_book *book = flags & DF11_FMT_FLAGS_MODELS ? &e->book : NULL;
    df11_status s = df11_index_build(&e->plan, e->first_chunk, (const uint8_t(*)[256])e->len, e->chunks,
                                     e->njobs, book, book ? e->seg_model : NULL, ix);
    if (s != DF11_OK) return s;
    df11_header_build(h, e->size, sha, e->o.chunk_log2, e->plan.count, e->njobs, index_offset,
                      flags, book, ix);
    return DF11_OK;
}

/* A regular file written from its current offset *base on, not in append
 * mode: its header can be written last. */
static bool can_seek(int fd, uint64_t *base)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (fl < 0 || (fl & O_APPEND) || at < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    *base = (uint64_t)at;
    return true;
}

/* --max into a seekable file (direct_work): a header-sized hole, the
 * payloads, the index, then the header. *done false: ANS was dropped
 * after chunks were written with it (ans_settle), and the file is cut
 * back to base for the caller to write it again. */
static df11_status encode_direct(encoder *e, unsigned threads, const uint8_t sha[32], uint64_t base,
                                 bool *done)
{
    uint8_t h[DF11_HEADER_SIZE] = {0};
    e->out_pos = 0;
    e->done = 0;
    df11_status s = write_out(e, h, sizeof h);
    if (s == DF11_OK) s = df11_parallel_ordered(e->njobs, threads, e->window, direct_work, direct_emit, e);
    bool dropped = false;
    if (s == DF11_OK) s = ans_settle(e, &dropped);
    if (s != DF11_OK) return s;
    if (dropped) {
        if (ftruncate(e->out_fd, (off_t)base) != 0 || lseek(e->out_fd, (off_t)base, SEEK_SET) < 0)
            return df11_fail(e->err, DF11_E_IO, "%s: cannot rewind: %s", e->out_name, strerror(errno));
        return DF11_OK;
    }
    uint64_t index_offset = e->out_pos;
    df11_index_blob ix;
    s = check_unchanged_size(e);
    if (s == DF11_OK) s = index_and_header(e, sha, index_offset, &ix, h);
    if (s != DF11_OK) return s;
    s = write_out(e, ix.z, ix.zlen);
    df11_index_free(&ix);
    for (size_t off = 0; s == DF11_OK && off < sizeof h;) {
        ssize_t n = pwrite(e->out_fd, h + off, sizeof h - off, (off_t)(base + off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            s = df11_fail(e->err, DF11_E_IO, "%s: offset 0: write failed: %s", e->out_name,
                          strerror(n < 0 ? errno : ENOSPC));
        else
            off += (size_t)n;
    }
    *done = s == DF11_OK;
    return s;
}

static df11_status encode(encoder *e, unsigned threads)
{
    struct stat st;
    if (fstat(e->in_fd, &st) != 0)
        return df11_fail(e->err, DF11_E_IO, "%s: stat failed: %s", e->in_name, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return df11_fail(e->err, DF11_E_ARG, "%s: not a regular file", e->in_name);
    e->size = (uint64_t)st.st_size;
    df11_status s = df11_plan_file(e->in_fd, e->in_name, e->size, e->o.chunk_log2, &e->plan, e->err);
    if (s == DF11_E_TRUNCATED) /* the header promised bytes the file no longer has */
        s = changed(e, 0, "it got shorter");
    if (s == DF11_OK) s = make_jobs(e);
    if (s == DF11_OK) s = alloc_state(e, threads);
    e->out_pos = DF11_HEADER_SIZE; /* pass 1 lays the payloads out from here */
    if (s == DF11_OK) s = df11_parallel_ordered(e->njobs, threads, e->window, pass1_work, pass1_emit, e);
    if (s == DF11_OK && e->max) s = ans_prepare(e, threads);
    if (s != DF11_OK) return s;
    uint8_t sha[32];
    unsigned shalen = 0;
    EVP_DigestFinal_ex(e->sha, sha, &shalen);
    uint64_t base;
    if (e->max && can_seek(e->out_fd, &base)) {
        bool done = false;
        s = encode_direct(e, threads, sha, base, &done);
        if (s != DF11_OK || done) return s;
        /* ANS did not pay for its tables: the file again, without it */
    } else if (e->max) {
        s = df11_parallel_ordered(e->njobs, threads, e->window, size_work, size_emit, e);
        bool dropped;
        if (s == DF11_OK) s = ans_settle(e, &dropped);
        if (s != DF11_OK) return s;
    }
    df11_index_blob ix;
    uint8_t h[DF11_HEADER_SIZE];
    uint64_t index_offset = e->out_pos;
    s = index_and_header(e, sha, index_offset, &ix, h);
    if (s != DF11_OK) return s;
    e->out_pos = 0;
    e->done = 0;
    s = write_out(e, h, sizeof h);
    if (s == DF11_OK) s = df11_parallel_ordered(e->njobs, threads, e->window, pass2_work, pass2_emit, e);
    if (s == DF11_OK && e->out_pos != index_offset)
        s = df11_fail(e->err, DF11_E_INTERNAL, "%s: payloads end at %llu, planned %llu", e->in_name,
                      (unsigned long long)e->out_pos, (unsigned long long)index_offset);
    if (s == DF11_OK) s = check_unchanged_size(e);
    if (s == DF11_OK) s = write_out(e, ix.z, ix.zlen);
    df11_index_free(&ix);
    return s;
}

/* The codec --max writes: ANS_IL (format 1.2, FORMAT.md 10), which a
 * vector of lanes decodes with one lookup a step, for 0.015 points of
 * the file against ANS on GPT-2 (66.123% against 66.108%).
 * DF11_ANS_CODEC=3 in the environment is a test hook, not an option:
 * --max then writes ANS (codec 3, flag ANS, format 1.1) with 14-bit
 * exponent tables, byte for byte as this encoder did before ANS_IL, so
 * the tests of the ANS decoders, which 1.1 files keep needing, still
 * have files to read. DF11_ANS_CODEC=5 likewise writes ANS_IL without
 * signs in the lane states, as format 1.2 and 1.3 files have it. */
static uint8_t ans_codec_of(bool *il_signs)
{
    const char *v = getenv("DF11_ANS_CODEC");
    *il_signs = !(v && strcmp(v, "5") == 0);
    return v && strcmp(v, "3") == 0 ? CODEC_ANS : CODEC_ANS_IL;
}

void df11_encode_options_default(df11_encode_options *o)
{
    memset(o, 0, sizeof *o);
    o->zstd_level = 3;
    o->chunk_log2 = DF11_CHUNK_LOG2_DEFAULT;
}

df11_status df11_encode_fd(int in_fd, const char *in_name, int out_fd, const char *out_name,
                           const df11_encode_options *opts, df11_error *err)
{
    df11_error local = {0};
    if (!err) err = &local;
    err->code = DF11_OK;
    err->message[0] = 0;
    if (!in_name) in_name = "(input)";
    if (!out_name) out_name = "(output)";
    if (in_fd < 0 || out_fd < 0)
        return df11_fail(err, DF11_E_ARG, "df11_encode_fd: bad descriptor");
    encoder e = {.in_name = in_name, .out_name = out_name, .in_fd = in_fd, .out_fd = out_fd,
                 .err = err};
    df11_encode_options_default(&e.o);
    if (opts) e.o = *opts;
    e.max = e.o.level >= DF11_LEVEL_MAX;
    e.ans_codec = ans_codec_of(&e.il_signs);
    if (e.o.chunk_log2 < DF11_CHUNK_LOG2_MIN || e.o.chunk_log2 > DF11_CHUNK_LOG2_MAX)
        return df11_fail(err, DF11_E_ARG, "%s: chunk_log2 %u out of range", out_name, e.o.chunk_log2);
    unsigned threads = e.o.threads > 0 ? (unsigned)e.o.threads : df11_default_threads();
    if (threads > DF11_MAX_THREADS) threads = DF11_MAX_THREADS;
    pthread_mutex_init(&e.err_lock, NULL);
    df11_status s = encode(&e, threads);
    if (s == DF11_E_NOMEM && err->code == DF11_OK)
        df11_fail(err, s, "%s: out of memory", in_name);
    else if (s != DF11_OK && err->code == DF11_OK)
        df11_fail(err, s, "%s: %s", in_name, df11_status_name(s));
    free_state(&e, threads);
    pthread_mutex_destroy(&e.err_lock);
    return s;
}

df11_status df11_encode_file(const char *in_path, const char *out_path,
                             const df11_encode_options *opts, df11_error *err)
{
    if (!in_path || !out_path) return df11_fail(err, DF11_E_ARG, "df11_encode_file: NULL path");
    int in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) return df11_fail(err, DF11_E_IO, "%s: cannot open: %s", in_path, strerror(errno));
    int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
        df11_status s = df11_fail(err, DF11_E_IO, "%s: cannot create: %s", out_path, strerror(errno));
        close(in_fd);
        return s;
    }
    df11_status s = df11_encode_fd(in_fd, in_path, out_fd, out_path, opts, err);
    /* what a caller's rename would rely on: the bytes are on disk */
    if (s == DF11_OK && fdatasync(out_fd) != 0)
        s = df11_fail(err, DF11_E_IO, "%s: sync failed: %s", out_path, strerror(errno));
    if (close(out_fd) != 0 && s == DF11_OK)
        s = df11_fail(err, DF11_E_IO, "%s: close failed: %s", out_path, strerror(errno));
    if (s != DF11_OK) unlink(out_path);
    close(in_fd);
    return s;
}
