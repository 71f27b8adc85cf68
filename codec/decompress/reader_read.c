/* Reading the original bytes back: one chunk at a time, each checked
 * against its XXH3 before anyone sees it. Every function here is
 * thread-safe: the reader is read-only after open and sources are
 * thread-safe (df11.h). */
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
#include <zstd.h>

uint32_t df11_chunk_at(const df11_reader *r, uint64_t off)
{
    uint32_t lo = 0, hi = r->segment_count; /* segment holding off */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->segments[mid].orig_offset <= off) lo = mid;
        else hi = mid;
    }
    const df11_segment *s = &r->segments[lo];
    return s->first_chunk + (uint32_t)((off - s->orig_offset) >> r->chunk_log2);
}

void df11_chunk_extent(const df11_reader *r, uint32_t idx, uint64_t *off, uint32_t *len)
{
    *off = r->chunks[idx].orig_offset;
    *len = r->chunks[idx].decoded_length;
}

/* Reads chunk idx's payload into buf (payload_length + DF11_PAYLOAD_SLACK
 * bytes) and zeroes the slack the bit readers may touch. */
static df11_status read_payload_into(df11_reader *r, uint32_t idx, uint8_t *buf, df11_error *err)
{
    const df11_chunk *c = &r->chunks[idx];
    memset(buf + c->payload_length, 0, DF11_PAYLOAD_SLACK);
    return df11_source_read_exact(&r->src, buf, c->payload_length, c->payload_offset, err);
}

df11_status df11_read_payload(df11_reader *r, uint32_t idx, uint8_t **out, df11_error *err)
{
    uint8_t *buf = malloc((size_t)r->chunks[idx].payload_length + DF11_PAYLOAD_SLACK);
    if (!buf) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory", r->path, idx);
    df11_status s = read_payload_into(r, idx, buf, err);
    if (s != DF11_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return DF11_OK;
}

df11_status df11_check_chunk(const df11_reader *r, uint32_t idx, const void *dst, df11_error *err)
{
    const df11_chunk *c = &r->chunks[idx];
    if (df11_xxh3_64(dst, c->decoded_length) == c->xxh3) return DF11_OK;
    return df11_fail(err, DF11_E_CHECKSUM,
                     "%s: offset %llu: chunk %u (original bytes %llu..%llu) fails its checksum",
                     r->path, (unsigned long long)c->payload_offset, idx,
                     (unsigned long long)c->orig_offset,
                     (unsigned long long)(c->orig_offset + c->decoded_length));
}

static df11_status corrupt(df11_reader *r, uint32_t idx, const char *why, df11_error *err)
{
    return df11_fail(err, DF11_E_CORRUPT_CHUNK, "%s: offset %llu: chunk %u: %s", r->path,
                     (unsigned long long)r->chunks[idx].payload_offset, idx, why);
}

df11_status df11_decode_payload(df11_reader *r, uint32_t idx, const uint8_t *payload, void *dst,
                                df11_error *err)
{
    const df11_chunk *c = &r->chunks[idx];
    const df11_segment *s = &r->segments[c->segment];
    switch (c->codec) {
    case 0:
        memcpy(dst, payload, c->decoded_length);
        break;
    case 1: {
        if (ZSTD_findFrameCompressedSize(payload, c->payload_length) != c->payload_length)
            return corrupt(r, idx, "payload is not exactly one zstd frame", err);
        size_t got = df11_zstd_decompress(dst, c->decoded_length, payload, c->payload_length);
        if (ZSTD_isError(got) || got != c->decoded_length) {
            char why[160];
            snprintf(why, sizeof why, "zstd: %s", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong decoded size");
            return corrupt(r, idx, why, err);
        }
        break;
    }
    case DF11_FMT_ANS: {
        const df11_ans_dtable *t = df11_ans_dtable_get(r, s->model - 1);
        if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory for its decode table",
                                 r->path, idx);
        char why[160];
        df11_status st = df11_ans_decode(t, payload, c->payload_length, c->decoded_length / 2, dst,
                                         why, sizeof why);
        if (st != DF11_OK) return corrupt(r, idx, why, err);
        break;
    }
    case DF11_FMT_ANS_IL: {
        /* one chunk's 16-64 lanes already fill the vector chains, so
         * ANS_IL chunks are not paired (df11_pairable) */
        const df11_ans_il_dtable *t = df11_ans_il_dtable_get(r, s->model - 1);
        if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory for its decode table",
                                 r->path, idx);
        char why[160];
        df11_status st = df11_ans_il_decode(t, payload, c->payload_length, c->decoded_length / 2, dst,
                                            why, sizeof why);
        if (st != DF11_OK) return corrupt(r, idx, why, err);
        break;
    }
    case DF11_FMT_ANS_IL_LZ: {
        uint32_t n = c->decoded_length / 4;
        const df11_ans_il_dtable *t = df11_ans_il_dtable_get(r, s->model - 1);
        uint8_t *planes = t ? df11_thread_buffer(1, 2 * (size_t)n) : NULL;
        if (!planes) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory for its decode table",
                                      r->path, idx);
        char why[160];
        df11_status st = df11_ans_il_lz_decode(t, payload, c->payload_length, n, dst, planes, why, sizeof why);
        if (st != DF11_OK) return corrupt(r, idx, why, err);
        break;
    }
    case DF11_FMT_EXP_HI:
    case DF11_FMT_EXP_LZ: { /* F32 upper halves as EXP; EXP_LZ adds the low planes */
        uint32_t n = c->decoded_length / 4;
        bool lz = c->codec == DF11_FMT_EXP_LZ;
        uint8_t *scratch = df11_thread_buffer(1, lz ? df11_exp_lz_scratch_size(n, r->lane_symbols)
                                                    : df11_exp_scratch_size(n, r->lane_symbols));
        const df11_huff_dtable *t = scratch ? df11_segment_dtable(r, c->segment) : NULL;
        if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory for its decode table",
                                 r->path, idx);
        char why[160];
        df11_status st = (lz ? df11_exp_lz_decode : df11_exp_hi_decode)(
            payload, c->payload_length, n, r->lane_symbols, t, dst, scratch, why, sizeof why);
        df11_dtable_unpin(t);
        if (st != DF11_OK) return corrupt(r, idx, why, err);
        break;
    }
    default: {
        unsigned width = s->kind == DF11_SEG_EXP32 ? 4 : 2;
        uint32_t n = c->decoded_length / width;
        uint8_t *scratch = df11_thread_buffer(1, df11_exp_scratch_size(n, r->lane_symbols));
        /* pinned for this chunk only: the cache may evict it afterwards */
        const df11_huff_dtable *t = scratch ? df11_segment_dtable(r, c->segment) : NULL;
        if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory for its decode table",
                                 r->path, idx);
        char why[160];
        df11_status st = df11_exp_decode(payload, c->payload_length, n, width, r->lane_symbols,
                                         t, dst, scratch, why, sizeof why);
        df11_dtable_unpin(t);
        if (st != DF11_OK) return corrupt(r, idx, why, err);
    }
    }
    return df11_check_chunk(r, idx, dst, err);
}

df11_status df11_decode_chunk(df11_reader *r, uint32_t idx, void *dst, df11_error *err)
{
    if (!r || !dst || idx >= r->chunk_count)
        return df11_fail(err, DF11_E_ARG, "%s: chunk %u out of range", r ? r->path : "?", idx);
    /* per-thread buffer: a daemon decodes thousands of chunks a second and
     * fresh 256 KiB allocations each time fragment glibc's arenas */
    const df11_chunk *c = &r->chunks[idx];
    uint8_t *payload = df11_thread_buffer(0, (size_t)c->payload_length + DF11_PAYLOAD_SLACK);
    if (!payload) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory", r->path, idx);
    df11_status s = read_payload_into(r, idx, payload, err);
    return s == DF11_OK ? df11_decode_payload(r, idx, payload, dst, err) : s;
}

bool df11_pairable(const df11_reader *r, uint32_t idx)
{
    if (idx + 1 >= r->chunk_count) return false;
    const df11_chunk *a = &r->chunks[idx], *b = &r->chunks[idx + 1];
    /* one model: the calling thread holds one ANS decode table at a time */
    return a->codec == DF11_FMT_ANS && b->codec == DF11_FMT_ANS && a->segment == b->segment;
}

df11_status df11_decode_chunk_pair(df11_reader *r, uint32_t idx, void *dst0, void *dst1,
                                   df11_error *err)
{
    if (!r || !df11_pairable(r, idx)) {
        df11_status s = df11_decode_chunk(r, idx, dst0, err);
        return s == DF11_OK ? df11_decode_chunk(r, idx + 1, dst1, err) : s;
    }
    const df11_chunk *c = &r->chunks[idx];
    /* slot 1 is the EXP decoders' scratch, unused by ANS chunks */
    uint8_t *p0 = df11_thread_buffer(0, (size_t)c[0].payload_length + DF11_PAYLOAD_SLACK);
    uint8_t *p1 = df11_thread_buffer(1, (size_t)c[1].payload_length + DF11_PAYLOAD_SLACK);
    const df11_ans_dtable *t = p0 && p1 ? df11_ans_dtable_get(r, r->segments[c->segment].model - 1) : NULL;
    if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory", r->path, idx);
    df11_status s = read_payload_into(r, idx, p0, err);
    if (s == DF11_OK) s = read_payload_into(r, idx + 1, p1, err);
    if (s != DF11_OK) return s;
    df11_ans_job jobs[2] = {
        { t, p0, c[0].payload_length, c[0].decoded_length / 2, dst0 },
        { t, p1, c[1].payload_length, c[1].decoded_length / 2, dst1 },
    };
    char why[160];
    uint32_t bad = 0;
    if (df11_ans_decode_many(jobs, 2, &bad, why, sizeof why) != DF11_OK)
        return corrupt(r, idx + bad, why, err);
    s = df11_check_chunk(r, idx, dst0, err);
    return s == DF11_OK ? df11_check_chunk(r, idx + 1, dst1, err) : s;
}

uint32_t df11_batch_max(const df11_reader *r)
{
    if (r->flags & DF11_FMT_FLAG_ANS_IL) return DF11_ANS_IL_BATCH;
    return r->flags & DF11_FMT_FLAG_ANS ? 2 : 1;
}

uint32_t df11_batch_len(const df11_reader *r, uint32_t idx, uint32_t max)
{
    if (max >= 2 && df11_pairable(r, idx)) return 2;
    const df11_chunk *c = &r->chunks[idx];
    uint32_t k = 1;
    if (c->codec != DF11_FMT_ANS_IL && c->codec != DF11_FMT_ANS_IL_LZ) return k;
    uint32_t most = max < DF11_ANS_IL_BATCH ? max : DF11_ANS_IL_BATCH;
    while (k < most && idx + k < r->chunk_count && c[k].codec == c->codec && c[k].segment == c->segment) k++;
    /* A tensor's own chunks, when they are enough to interleave (on one
     * table, its context map held in registers). Fewer: the batch takes
     * the next tensors too, whole ones only (so that a tensor's chunks are
     * not split between two batches, each mixing tables), with at most as
     * many models as a thread keeps tables for. A 384x384 tensor is a full
     * chunk and a 1/8 one: alone, the full one would finish at half the
     * speed. Batches that split GPT-2's 4.5-chunk tensors ran 6-10% slower
     * than one tensor at a time. */
    if (k >= 4 || k == most) return k;
    unsigned per = c->codec == DF11_FMT_ANS_IL_LZ ? 4 : 2; /* bytes per element */
    uint32_t models[DF11_ANS_IL_TABLES], nm = 0;
    /* (only the models of chunks that interleave, of 16 lanes, are held
     * together: decode_group decodes the others first, one by one. With
     * chunks of 2^19 bytes or more a tensor's full chunks have 32-64 lanes
     * and only its tail may have 16.) */
    for (uint32_t q = 0; q < k && nm == 0; q++)
        if (df11_ans_il_lanes(c[q].decoded_length / per) == 16) models[nm++] = r->segments[c->segment].model;
    while (idx + k < r->chunk_count) {
        const df11_segment *g = &r->segments[c[k].segment];
        /* whole tensors only: not the rest of the first one, when a chunk
         * of another codec ended its run */
        if (g->first_chunk != idx + k || k + g->chunk_count > most) break;
        /* An ANS_IL batch also takes tensors of other codecs (an F16
         * model's small tensors are EXP), decoded alone; an ANS_IL_LZ
         * batch only its own codec (its planes and the other decoders'
         * scratch share a thread buffer). Each chunk chose its codec. */
        bool held = false;
        uint32_t q = 0;
        for (; q < g->chunk_count; q++) {
            if (c[k + q].codec == c->codec) held |= df11_ans_il_lanes(c[k + q].decoded_length / per) == 16;
            else if (c->codec == DF11_FMT_ANS_IL_LZ) break;
        }
        if (q < g->chunk_count) break;
        uint32_t j = 0;
        while (j < nm && models[j] != g->model) j++;
        if (held && j == nm) {
            if (nm == DF11_ANS_IL_TABLES) break;
            models[nm++] = g->model;
        }
        k += g->chunk_count;
    }
    return k;
}

/* count chunks that df11_batch_len groups (count <= its answer). */
static df11_status decode_group(df11_reader *r, uint32_t idx, uint32_t count, void *const *dst,
                                df11_error *err)
{
    if (count == 1) return df11_decode_chunk(r, idx, dst[0], err);
    if (count == 2 && df11_pairable(r, idx)) return df11_decode_chunk_pair(r, idx, dst[0], dst[1], err);
    /* consecutive ANS_IL (or ANS_IL_LZ) chunks: their payloads follow each
     * other in the file (checked at open), so one read brings them all */
    const df11_chunk *c = &r->chunks[idx];
    bool lz = c->codec == DF11_FMT_ANS_IL_LZ;
    uint64_t total = c[count - 1].payload_offset + c[count - 1].payload_length - c->payload_offset;
    uint8_t *p = df11_thread_buffer(0, (size_t)total + DF11_PAYLOAD_SLACK);
    /* ANS_IL_LZ: each chunk's low planes, 2n = D/2 bytes, side by side */
    uint8_t *planes = lz ? df11_thread_buffer(1, (size_t)count << (r->chunk_log2 - 1)) : NULL;
    if (!p || (lz && !planes)) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory", r->path, idx);
    df11_status s = df11_source_read_exact(&r->src, p, (size_t)total, c->payload_offset, err);
    if (s != DF11_OK) return s;
    /* Chunks that do not interleave (not of 16 lanes: a small tensor's, a
     * tensor's short tail; or of another codec) go first, one at a time,
     * each with its table just then; the interleaving ones after, all
     * together, so that only their models' tables need to be held at once
     * (df11_batch_len keeps those within what a thread's cache holds). The
     * first failing chunk is the one named: the second pass stops before
     * one the first found bad. */
    df11_ans_il_job jobs[DF11_ANS_IL_BATCH];
    uint32_t at[DF11_ANS_IL_BATCH], nj = 0, first_bad = count;
    bool checked[DF11_ANS_IL_BATCH] = { false };
    char why[160];
    df11_error bad_err = { DF11_OK, "" };
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t k = 0; k < first_bad; k++) {
            uint32_t n = c[k].decoded_length / (lz ? 4 : 2);
            bool own = c[k].codec == c->codec;
            if ((own && df11_ans_il_lanes(n) == 16) != (pass == 1)) continue;
            const uint8_t *pk = p + (c[k].payload_offset - c->payload_offset);
            if (!own) {
                /* (its payload is followed by the next one's bytes or by
                 * the buffer's slack, as a decoder may read past it) */
                if (df11_decode_payload(r, idx + k, pk, dst[k], &bad_err) != DF11_OK) first_bad = k;
                checked[k] = true;
                continue;
            }
            const df11_ans_il_dtable *t = df11_ans_il_dtable_get(r, r->segments[c[k].segment].model - 1);
            if (!t) return df11_fail(err, DF11_E_NOMEM, "%s: chunk %u: out of memory", r->path, idx + k);
            df11_ans_il_job j = { t, pk, c[k].payload_length, n, dst[k] };
            if (lz) {
                uint32_t hi;
                if (!df11_lz_split(pk, c[k].payload_length, n, planes + ((size_t)k << (r->chunk_log2 - 1)), &hi,
                                   why, sizeof why)) {
                    corrupt(r, idx + k, why, &bad_err);
                    first_bad = k;
                    break;
                }
                j = (df11_ans_il_job){ t, pk + 4, hi, n, (uint8_t *)dst[k] + 2 * (size_t)n };
            }
            uint32_t bad;
            if (pass == 1) {
                at[nj] = k;
                jobs[nj++] = j;
            } else if (df11_ans_il_decode_many(&j, 1, &bad, why, sizeof why) != DF11_OK) {
                corrupt(r, idx + k, why, &bad_err);
                first_bad = k;
            }
        }
    /* (the jobs were added in chunk order, all before first_bad; those
     * before the failing one are whole) */
    uint32_t bad = 0;
    if (nj && df11_ans_il_decode_many(jobs, nj, &bad, why, sizeof why) != DF11_OK && at[bad] < first_bad) {
        corrupt(r, idx + at[bad], why, &bad_err);
        first_bad = at[bad];
    }
    /* Every chunk before the first that failed to decode is decoded: its
     * checksum, in chunk order, comes before that failure. */
    for (uint32_t k = 0; k < first_bad; k++) {
        if (lz) df11_lz_widen(dst[k], c[k].decoded_length / 4, planes + ((size_t)k << (r->chunk_log2 - 1)));
        if (!checked[k] && (s = df11_check_chunk(r, idx + k, dst[k], err)) != DF11_OK) return s;
    }
    if (first_bad < count) {
        if (err) *err = bad_err;
        return bad_err.code;
    }
    return DF11_OK;
}

df11_status df11_decode_chunks(df11_reader *r, uint32_t idx, uint32_t count, void *const *dst,
                               df11_error *err)
{
    if (!r || (count && !dst) || idx > r->chunk_count || count > r->chunk_count - idx)
        return df11_fail(err, DF11_E_ARG, "%s: chunks %u+%u out of range", r ? r->path : "?", idx, count);
    for (uint32_t k = 0; k < count; k++)
        if (!dst[k]) return df11_fail(err, DF11_E_ARG, "%s: chunk %u: NULL buffer", r->path, idx + k);
    df11_status s = DF11_OK;
    for (uint32_t j = 0; j < count && s == DF11_OK;) {
        uint32_t k = df11_batch_len(r, idx + j, count - j);
        s = decode_group(r, idx + j, k, dst + j, err);
        j += k;
    }
    return s;
}

df11_status df11_pread(df11_reader *r, void *buf, size_t len, uint64_t off, df11_error *err)
{
    if (!r || (!buf && len))
        return df11_fail(err, DF11_E_ARG, "df11_pread: NULL argument");
    if (off > r->original_size || len > r->original_size - off)
        return df11_fail(err, DF11_E_RANGE, "%s: range %llu+%zu is past the end of the original (%llu bytes)",
                         r->path, (unsigned long long)off, len, (unsigned long long)r->original_size);
    uint8_t *out = buf, *tmp = NULL;
    df11_status s = DF11_OK;
    while (len > 0 && s == DF11_OK) {
        uint32_t idx = df11_chunk_at(r, off);
        const df11_chunk *c = &r->chunks[idx];
        uint64_t skip = off - c->orig_offset;
        size_t take = c->decoded_length - skip < len ? (size_t)(c->decoded_length - skip) : len;
        if (skip == 0 && take == c->decoded_length) {
            /* whole chunks: ANS pairs and ANS_IL runs of a segment decode
             * interleaved (df11_batch_len) */
            uint32_t fit = 1;
            size_t all = take;
            while (fit < DF11_ANS_IL_BATCH && idx + fit < r->chunk_count &&
                   len - all >= c[fit].decoded_length)
                all += c[fit++].decoded_length;
            uint32_t k = df11_batch_len(r, idx, fit);
            void *d[DF11_ANS_IL_BATCH];
            take = 0;
            for (uint32_t j = 0; j < k; j++) d[j] = out + take, take += c[j].decoded_length;
            s = df11_decode_chunks(r, idx, k, d, err);
        } else {
            if (!tmp && !(tmp = malloc(1u << r->chunk_log2)))
                s = df11_fail(err, DF11_E_NOMEM, "%s: out of memory", r->path);
            if (s == DF11_OK) s = df11_decode_chunk(r, idx, tmp, err);
            if (s == DF11_OK) memcpy(out, tmp + skip, take);
        }
        out += take;
        off += take;
        len -= take;
    }
    free(tmp);
    return s;
}
