/* df11_gpu_available() and df11_gpu_decode_batch(): routes every job of a
 * batch to the GPU decoders (EXP, ANS and ANS_IL chunks of EXP16 segments) or to
 * the CPU decoder (RAW, ZSTD, EXP32, EXP_HI, EXP_LZ, ANS_IL_LZ, and anything the GPU path
 * cannot take), and checks every GPU-decoded chunk against its XXH3 on the
 * host. The same code
 * runs in builds without CUDA: kernels/gpu_stub.c then reports "built
 * without CUDA" and host-mode batches decode on the CPU. */
#include "reader.h"
#include "gpu_codec.h"

#include <stdio.h>
#include <stdlib.h>

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static df11_status probe_status;
static char probe_why[256];

static void probe(void)
{
    probe_status = df11_cuda_probe(probe_why, sizeof probe_why);
    if (probe_status != DF11_OK) probe_status = DF11_E_NO_GPU;
}

static int env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

df11_status df11_gpu_available(df11_error *err)
{
    if (env_is("DF11_GPU", "0"))
        return df11_fail(err, DF11_E_NO_GPU, "GPU decoding disabled by DF11_GPU=0");
    pthread_once(&probe_once, probe);
    if (probe_status != DF11_OK) return df11_fail(err, DF11_E_NO_GPU, "no GPU decoding: %s", probe_why);
    if (err) {
        err->code = DF11_OK;
        snprintf(err->message, sizeof err->message, "GPU decoding on %s", probe_why);
    }
    return DF11_OK;
}

/* Everything the callbacks of one batch need. The callbacks run on the
 * calling thread, outside the kernels' lock (kernels/batch.cu). */
typedef struct {
    const df11_chunk_job *jobs;
    df11_batch_mode mode;
    df11_status *status;      /* the caller's, by caller job index */
    size_t *gmap;             /* GPU job -> caller job */
    uint8_t *constant;        /* per GPU job: segment has a constant code */
    size_t first_bad;         /* caller index whose message is in first_err */
    df11_error first_err;
} batch;

static void note(batch *b, size_t i, const df11_error *e)
{
    if (i < b->first_bad) {
        b->first_bad = i;
        b->first_err = *e;
    }
}

static df11_status note_fail(batch *b, size_t i, df11_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static df11_status note_fail(batch *b, size_t i, df11_status st, const char *fmt, ...)
{
    if (i < b->first_bad) {
        va_list ap;
        va_start(ap, fmt);
        b->first_bad = i;
        b->first_err.code = st;
        vsnprintf(b->first_err.message, sizeof b->first_err.message, fmt, ap);
        va_end(ap);
    }
    return st;
}

static df11_status cb_load(void *ctx, size_t j, uint8_t *buf)
{
    batch *b = ctx;
    const size_t i = b->gmap[j];
    df11_reader *r = b->jobs[i].reader;
    const uint32_t idx = b->jobs[i].chunk;
    const df11_chunk *c = &r->chunks[idx];
    df11_error e;
    df11_status st = df11_source_read_exact(&r->src, buf, c->payload_length, c->payload_offset, &e);
    if (st != DF11_OK) {
        note(b, i, &e);
        return st;
    }
    char why[160];
    const uint32_t n = c->decoded_length / 2;
    if (c->codec == DF11_FMT_ANS)
        st = df11_gpu_check_ans(buf, c->payload_length, n, why, sizeof why);
    else if (c->codec == DF11_FMT_ANS_IL)
        st = df11_gpu_check_ans_il(buf, c->payload_length, n, df11_il_signs(r), why, sizeof why);
    else
        st = df11_gpu_check_payload(buf, c->payload_length, n, r->lane_symbols, b->constant[j], why, sizeof why);
    if (st != DF11_OK)
        return note_fail(b, i, st, "%s: offset %llu: chunk %u: %s", r->path,
                         (unsigned long long)c->payload_offset, idx, why);
    return DF11_OK;
}

static df11_status cb_check(void *ctx, size_t j, const void *bytes)
{
    batch *b = ctx;
    const size_t i = b->gmap[j];
    df11_error e;
    df11_status st = df11_check_chunk(b->jobs[i].reader, b->jobs[i].chunk, bytes, &e);
    if (st != DF11_OK) note(b, i, &e);
    return st;
}

static void cb_fail(void *ctx, size_t j, df11_status st, const char *msg)
{
    batch *b = ctx;
    const size_t i = b->gmap[j];
    const df11_reader *r = b->jobs[i].reader;
    const uint32_t idx = b->jobs[i].chunk;
    note_fail(b, i, st, "%s: offset %llu: chunk %u: GPU decoder: %s", r->path,
              (unsigned long long)r->chunks[idx].payload_offset, idx, msg);
}

/* LUTs of the batch, one per (reader, segment); batches are mostly runs of
 * chunks of one tensor, so a short look-back finds nearly all repeats. */
typedef struct {
    uint16_t *luts;
    size_t count, cap;
    const df11_reader *key_r[16];
    uint32_t key_seg[16], key_lut[16];
    size_t keys;
} lut_set;

static df11_status lut_for(lut_set *ls, const df11_reader *r, uint32_t seg, uint32_t *out)
{
    for (size_t k = 0; k < ls->keys && k < 16; k++)
        if (ls->key_r[k] == r && ls->key_seg[k] == seg) {
            *out = ls->key_lut[k];
            return DF11_OK;
        }
    if (ls->count == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : 8;
        uint16_t *p = realloc(ls->luts, cap * DF11_CUDA_LUT_ENTRIES * sizeof *p);
        if (!p) return DF11_E_NOMEM;
        ls->luts = p;
        ls->cap = cap;
    }
    df11_status st = df11_gpu_build_lut(r->segments[seg].code_lengths,
                                        ls->luts + ls->count * DF11_CUDA_LUT_ENTRIES);
    if (st != DF11_OK) return st;
    size_t slot = ls->keys++ % 16;
    ls->key_r[slot] = r;
    ls->key_seg[slot] = seg;
    ls->key_lut[slot] = (uint32_t)ls->count;
    *out = (uint32_t)ls->count++;
    return DF11_OK;
}

/* ANS tables of the batch (one set for ANS, one for ANS_IL), one per
 * (reader, model), each built once: at 145-148 KiB a table costs about
 * what a chunk costs to decode. Models are few
 * per batch, so a linear search over all of them is enough. */
typedef struct {
    void *tabs;               /* df11_cuda_ans_table, or df11_cuda_ans_il_table when il */
    const df11_reader **key_r;
    uint32_t *key_model;
    size_t count, cap;
    int il;                   /* ANS_IL (FORMAT.md 10) tables */
} ans_set;

static df11_status ans_for(ans_set *as, const df11_reader *r, uint32_t model, uint32_t *out)
{
    for (size_t k = 0; k < as->count; k++)
        if (as->key_r[k] == r && as->key_model[k] == model) {
            *out = (uint32_t)k;
            return DF11_OK;
        }
    if (model >= r->model_count) return DF11_E_BAD_TABLE;
    if (as->count == as->cap) {
        size_t cap = as->cap ? 2 * as->cap : 4;
        void *t = realloc(as->tabs, cap * (as->il ? sizeof(df11_cuda_ans_il_table) : sizeof(df11_cuda_ans_table)));
        if (t) as->tabs = t;
        const df11_reader **kr = realloc(as->key_r, cap * sizeof *kr);
        if (kr) as->key_r = kr;
        uint32_t *km = realloc(as->key_model, cap * sizeof *km);
        if (km) as->key_model = km;
        if (!t || !kr || !km) return DF11_E_NOMEM;
        as->cap = cap;
    }
    df11_status st = as->il ? df11_gpu_build_ans_il(r->tables, r->table_count, &r->models[model],
                                                    (df11_cuda_ans_il_table *)as->tabs + as->count)
                            : df11_gpu_build_ans(r->tables, r->table_count, &r->models[model],
                                                 (df11_cuda_ans_table *)as->tabs + as->count);
    if (st != DF11_OK) return st;
    as->key_r[as->count] = r;
    as->key_model[as->count] = model;
    *out = (uint32_t)as->count++;
    return DF11_OK;
}

enum { ROUTE_DONE, ROUTE_GPU, ROUTE_CPU };

/* Whether chunk idx can go to a GPU decoder at all. */
static int gpu_can_take(const df11_reader *r, uint32_t idx)
{
    const df11_chunk *c = &r->chunks[idx];
    const df11_segment *s = &r->segments[c->segment];
    if (s->kind != DF11_SEG_EXP16 || c->decoded_length % 2 != 0) return 0;
    if (c->codec == DF11_FMT_ANS)
        return s->model != 0 && df11_gpu_ans_len_ok(c->payload_length, c->decoded_length / 2);
    if (c->codec == DF11_FMT_ANS_IL)
        return s->model != 0 && df11_gpu_ans_il_len_ok(c->payload_length, c->decoded_length / 2, df11_il_signs(r));
    return c->codec == DF11_FMT_EXP && r->lane_symbols % 64 == 0 &&
           df11_gpu_payload_len_ok(c->payload_length, c->decoded_length / 2, r->lane_symbols);
}

/* The GPU part of a batch: its jobs, tables and callback state. */
struct df11_gpu_plan {
    batch b;
    df11_cuda_job *gj;
    size_t ng;
    lut_set ls;
    ans_set as, ail;
    uint8_t *route;           /* per caller job */
    df11_status *own_status;  /* when the caller gave none (benchmark) */
};

/* Builds the GPU job list from the jobs routed to the GPU. */
static df11_status gpu_jobs(df11_gpu_plan *p, size_t n)
{
    batch *b = &p->b;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->route[i] != ROUTE_GPU) continue;
        const df11_chunk_job *J = &b->jobs[i];
        const df11_chunk *c = &J->reader->chunks[J->chunk];
        const df11_segment *seg = &J->reader->segments[c->segment];
        uint32_t table;
        bool constant = false;
        const int ans = c->codec == DF11_FMT_ANS, il = c->codec == DF11_FMT_ANS_IL;
        df11_status st = ans  ? ans_for(&p->as, J->reader, seg->model - 1, &table)
                         : il ? ans_for(&p->ail, J->reader, seg->model - 1, &table)
                              : lut_for(&p->ls, J->reader, c->segment, &table);
        if (st != DF11_OK) return st;
        if (!ans && !il) df11_huff_check(seg->code_lengths, &constant);
        p->gj[k] = (df11_cuda_job){c->payload_length, c->decoded_length / 2, J->reader->lane_symbols, table,
                                   ans ? DF11_CUDA_ANS : il ? DF11_CUDA_ANS_IL : DF11_CUDA_EXP16, J->dst,
                                   il && df11_il_signs(J->reader)};
        b->gmap[k] = i;
        b->constant[k] = constant;
        k++;
    }
    p->ng = k;
    return DF11_OK;
}

/* Decodes job i on the CPU; in device mode through a host buffer. */
static df11_status cpu_job(batch *b, size_t i, uint8_t **tmp, size_t *tmp_cap)
{
    const df11_chunk_job *J = &b->jobs[i];
    df11_error e;
    df11_status st;
    if (b->mode == DF11_BATCH_HOST) {
        st = df11_decode_chunk(J->reader, J->chunk, J->dst, &e);
    } else {
        size_t len = J->reader->chunks[J->chunk].decoded_length;
        if (len > *tmp_cap) {
            free(*tmp);
            *tmp_cap = 0;
            if (!(*tmp = malloc(len)))
                return note_fail(b, i, DF11_E_NOMEM, "%s: chunk %u: out of memory", J->reader->path, J->chunk);
            *tmp_cap = len;
        }
        st = df11_decode_chunk(J->reader, J->chunk, *tmp, &e);
        if (st == DF11_OK) {
            char why[256];
            st = df11_cuda_copy_to_device(J->dst, *tmp, len, why, sizeof why);
            if (st != DF11_OK)
                return note_fail(b, i, st, "%s: chunk %u: copy to the GPU: %s", J->reader->path, J->chunk, why);
        }
    }
    if (st != DF11_OK) note(b, i, &e);
    return st;
}

/* First pass: argument checks and the GPU/CPU split. */
static void route_jobs(batch *b, size_t n, int gpu, uint8_t *route)
{
    for (size_t i = 0; i < n; i++) {
        const df11_chunk_job *J = &b->jobs[i];
        route[i] = ROUTE_DONE;
        if (!J->reader || !J->dst || J->chunk >= J->reader->chunk_count) {
            b->status[i] = note_fail(b, i, DF11_E_ARG, "%s: chunk %u: job %zu has no reader, no dst or a chunk out of range",
                                     J->reader ? J->reader->path : "?", J->chunk, i);
            continue;
        }
        route[i] = gpu && gpu_can_take(J->reader, J->chunk) ? ROUTE_GPU : ROUTE_CPU;
    }
}

void df11_gpu_plan_free(df11_gpu_plan *p)
{
    if (!p) return;
    free(p->gj);
    free(p->b.gmap);
    free(p->b.constant);
    free(p->ls.luts);
    free(p->as.tabs);
    free(p->as.key_r);
    free(p->as.key_model);
    free(p->ail.tabs);
    free(p->ail.key_r);
    free(p->ail.key_model);
    free(p->route);
    free(p->own_status);
    free(p);
}

/* A plan over jobs whose statuses go to status (NULL: its own array). */
static df11_status plan_new(const df11_chunk_job *jobs, size_t n, df11_batch_mode mode,
                            df11_status *status, df11_gpu_plan **out)
{
    df11_gpu_plan *p = calloc(1, sizeof *p);
    *out = p;
    if (!p) return DF11_E_NOMEM;
    const size_t m = n ? n : 1;
    p->b = (batch){.jobs = jobs, .mode = mode, .status = status, .first_bad = (size_t)-1};
    p->ail.il = 1;
    if (!status) p->b.status = p->own_status = calloc(m, sizeof *p->own_status);
    p->gj = malloc(m * sizeof *p->gj);
    p->b.gmap = malloc(m * sizeof *p->b.gmap);
    p->b.constant = malloc(m);
    p->route = malloc(m);
    return p->b.status && p->gj && p->b.gmap && p->b.constant && p->route ? DF11_OK : DF11_E_NOMEM;
}

static df11_cuda_tables plan_tables(const df11_gpu_plan *p)
{
    return (df11_cuda_tables){p->ls.luts, p->ls.count, p->as.tabs, p->as.count, p->ail.tabs, p->ail.count};
}

df11_status df11_gpu_plan_make(const df11_chunk_job *jobs, size_t n, df11_batch_mode mode,
                               df11_gpu_plan **plan, const df11_cuda_job **cuda_jobs,
                               size_t *count, df11_cuda_tables *tables, df11_cuda_io *io,
                               df11_error *err)
{
    df11_gpu_plan *p;
    df11_status st = plan_new(jobs, n, mode, NULL, &p);
    if (st == DF11_OK) {
        route_jobs(&p->b, n, 1, p->route);
        st = gpu_jobs(p, n);
    }
    if (st != DF11_OK) {
        df11_gpu_plan_free(p);
        *plan = NULL;
        return df11_fail(err, st, "GPU batch: cannot prepare jobs or tables");
    }
    *plan = p;
    *cuda_jobs = p->gj;
    *count = p->ng;
    *tables = plan_tables(p);
    *io = (df11_cuda_io){cb_load, cb_check, cb_fail, &p->b};
    return DF11_OK;
}

void df11_gpu_plan_error(const df11_gpu_plan *p, df11_error *err)
{
    if (!err) return;
    if (p && p->b.first_bad != (size_t)-1) {
        *err = p->b.first_err;
    } else {
        err->code = DF11_OK;
        err->message[0] = 0;
    }
}

/* Runs the GPU part of a batch (the CUDA decoders or their CPU model). */
static df11_status run_gpu(df11_gpu_plan *p, size_t n, int use_cuda)
{
    df11_status st = gpu_jobs(p, n);
    if (st != DF11_OK || p->ng == 0) return st;
    df11_status *gs = malloc(p->ng * sizeof *gs);
    if (!gs) return DF11_E_NOMEM;
    char why[256] = "";
    df11_cuda_io io = {cb_load, cb_check, cb_fail, &p->b};
    df11_cuda_tables t = plan_tables(p);
    st = use_cuda ? df11_cuda_decode(p->gj, p->ng, &t, p->b.mode == DF11_BATCH_DEVICE, &io, gs, why, sizeof why)
                  : df11_emul_decode(p->gj, p->ng, &t, &io, gs, why, sizeof why);
    if (st == DF11_OK)
        for (size_t k = 0; k < p->ng; k++) {
            p->b.status[p->b.gmap[k]] = gs[k];
            p->route[p->b.gmap[k]] = ROUTE_DONE;
        }
    /* On failure the jobs stay routed to the GPU; the caller re-routes them
     * to the CPU and restores the messages from before this run. */
    free(gs);
    return st;
}

df11_status df11_gpu_decode_batch(const df11_chunk_job *jobs, size_t n, df11_batch_mode mode,
                                  df11_status *status, df11_error *err)
{
    if (n == 0) return DF11_OK;
    if (!jobs || !status) return df11_fail(err, DF11_E_ARG, "df11_gpu_decode_batch: NULL jobs or status");
    if (mode != DF11_BATCH_HOST && mode != DF11_BATCH_DEVICE)
        return df11_fail(err, DF11_E_ARG, "df11_gpu_decode_batch: unknown mode %d", (int)mode);
    df11_error gerr;
    const int gpu = df11_gpu_available(&gerr) == DF11_OK;
    if (mode == DF11_BATCH_DEVICE && !gpu) {
        for (size_t i = 0; i < n; i++) status[i] = DF11_E_NO_GPU;
        return df11_fail(err, DF11_E_NO_GPU, "device-mode decoding needs a GPU: %s", gerr.message);
    }
    const int emulate = !gpu && env_is("DF11_GPU_EMULATE", "1");
    df11_gpu_plan *p;
    if (plan_new(jobs, n, mode, status, &p) != DF11_OK) {
        df11_gpu_plan_free(p);
        return df11_fail(err, DF11_E_NOMEM, "df11_gpu_decode_batch: out of memory");
    }
    batch *b = &p->b;
    uint8_t *route = p->route;
    route_jobs(b, n, gpu || emulate, route);
    if (gpu || emulate) {
        /* A GPU failure (or no memory for the GPU tables) sends the whole
         * batch to the CPU: slower, never wrong. */
        const size_t saved_bad = b->first_bad;
        const df11_error saved_err = b->first_err;
        if (run_gpu(p, n, gpu) != DF11_OK) {
            b->first_bad = saved_bad;
            b->first_err = saved_err;
            for (size_t i = 0; i < n; i++)
                if (route[i] == ROUTE_GPU) route[i] = ROUTE_CPU;
        }
    }
    uint8_t *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t i = 0; i < n; i++)
        if (route[i] == ROUTE_CPU) status[i] = cpu_job(b, i, &tmp, &tmp_cap);
    free(tmp);
    df11_status rc = DF11_OK;
    for (size_t i = 0; i < n && rc == DF11_OK; i++) {
        if (status[i] == DF11_OK) continue;
        if (i != b->first_bad) { /* a failure no callback explained (should not happen) */
            rc = df11_fail(err, status[i], "df11_gpu_decode_batch: job %zu failed", i);
        } else {
            if (err) *err = b->first_err;
            rc = status[i];
        }
    }
    df11_gpu_plan_free(p);
    return rc;
}
