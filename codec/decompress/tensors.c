/* The tensor table of df11_tensor_count/df11_tensor_get: parsed once from
 * the original safetensors header, which is itself decoded from the file. */
#include "reader.h"

#include <stdlib.h>

struct df11_tensor_table {
    df11_st_header h;
    df11_tensor *t;
};

void df11_tensor_table_free(df11_tensor_table *t)
{
    if (!t) return;
    df11_st_free(&t->h);
    free(t->t);
    free(t);
}

static void describe(const df11_reader *r, const df11_st_tensor *st, df11_tensor *t)
{
    *t = (df11_tensor){.name = st->name, .dtype = st->dtype, .offset = st->begin,
                       .length = st->end - st->begin, .elements = st->elements,
                       .codec = DF11_CODEC_RAW};
    if (t->length == 0) return;
    double stored = 0;
    int codec = -1;
    for (uint32_t i = df11_chunk_at(r, st->begin); i < r->chunk_count; i++) {
        const df11_chunk *c = &r->chunks[i];
        if (c->orig_offset >= st->end) break;
        uint64_t lo = c->orig_offset > st->begin ? c->orig_offset : st->begin;
        uint64_t hi = c->orig_offset + c->decoded_length < st->end ? c->orig_offset + c->decoded_length : st->end;
        stored += (double)c->payload_length * (double)(hi - lo) / c->decoded_length;
        /* the public numbers differ from the wire codes from 3 on */
        int pc = c->codec == DF11_FMT_ANS      ? DF11_CODEC_ANS
                 : c->codec == DF11_FMT_ANS_IL ? DF11_CODEC_ANS_IL
                 : c->codec == DF11_FMT_EXP_HI ? DF11_CODEC_EXP_HI
                 : c->codec == DF11_FMT_EXP_LZ ? DF11_CODEC_EXP_LZ
                 : c->codec == DF11_FMT_ANS_IL_LZ ? DF11_CODEC_ANS_IL_LZ : c->codec;
        codec = codec < 0 || codec == pc ? pc : DF11_CODEC_MIXED;
    }
    t->stored_bytes = (uint64_t)(stored + 0.5);
    t->codec = codec < 0 ? DF11_CODEC_RAW : (df11_codec)codec;
}

static df11_status build(df11_reader *r, df11_error *err)
{
    uint8_t lenbuf[8];
    if (r->original_size < 8)
        return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: original offset 0: original is not a safetensors file (%llu bytes)",
                         r->path, (unsigned long long)r->original_size);
    df11_status s = df11_pread(r, lenbuf, 8, 0, err);
    if (s != DF11_OK) return s;
    uint64_t hlen = df11_rd64(lenbuf);
    if (hlen > DF11_ST_MAX_HEADER || hlen > r->original_size - 8)
        return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: original offset 0: original is not a safetensors file (header length %llu)",
                         r->path, (unsigned long long)hlen);
    df11_tensor_table *t = calloc(1, sizeof *t);
    uint8_t *json = malloc(hlen ? hlen : 1);
    if (!t || !json) {
        free(t);
        free(json);
        return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", r->path);
    }
    s = df11_pread(r, json, hlen, 8, err);
    if (s == DF11_OK) s = df11_st_parse(r->path, json, hlen, r->original_size, &t->h, err);
    free(json);
    if (s == DF11_OK && !(t->t = calloc(t->h.count ? t->h.count : 1, sizeof *t->t)))
        s = df11_fail(err, DF11_E_NOMEM, "%s: out of memory", r->path);
    if (s != DF11_OK) {
        df11_tensor_table_free(t);
        return s;
    }
    for (size_t i = 0; i < t->h.count; i++) describe(r, &t->h.tensors[i], &t->t[i]);
    r->tensors = t;
    return DF11_OK;
}

df11_status df11_tensor_count(df11_reader *r, size_t *count, df11_error *err)
{
    if (!r || !count) return df11_fail(err, DF11_E_ARG, "df11_tensor_count: NULL argument");
    pthread_mutex_lock(&r->tensor_lock);
    df11_status s = r->tensors ? DF11_OK : build(r, err);
    if (s == DF11_OK) *count = r->tensors->h.count;
    pthread_mutex_unlock(&r->tensor_lock);
    return s;
}

df11_status df11_tensor_get(df11_reader *r, size_t i, df11_tensor *t, df11_error *err)
{
    if (!r || !t) return df11_fail(err, DF11_E_ARG, "df11_tensor_get: NULL argument");
    pthread_mutex_lock(&r->tensor_lock);
    df11_status s = r->tensors && i < r->tensors->h.count ? DF11_OK : DF11_E_ARG;
    if (s == DF11_OK) *t = r->tensors->t[i];
    pthread_mutex_unlock(&r->tensor_lock);
    return s == DF11_OK ? s : df11_fail(err, s, "%s: tensor %zu out of range", r->path, i);
}
