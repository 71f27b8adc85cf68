/* Cutting a safetensors file into segments (FORMAT.md 6).
 *
 * A BF16, F16 or F32 tensor of at least `own` bytes is an EXP segment of
 * its own, with its own code: BF16 and F16 are EXP16 (the codec codes bits
 * 7-14 of each 16-bit word, which for F16 are its 5 exponent bits and the
 * top 3 of its mantissa), F32 is EXP32. Smaller ones are not worth a code,
 * a 160-byte segment entry, a chunk and a decode table each: runs of
 * adjacent small tensors of the same dtype share one EXP segment when the
 * run has at least max(own, DF11_PLAN_RUN_MIN) bytes, and shorter runs go
 * into the surrounding BYTES segment (zstd or raw). Everything else
 * (header, padding, other dtypes) is BYTES.
 *
 * `own` starts at DF11_PLAN_OWN_MIN and doubles while the plan has more
 * segments than the budget (total/C + DF11_PLAN_SEGMENT_SLACK), so the
 * chunk count stays near size/C whatever the tensor count: every EXP
 * segment then holds at least `own` bytes, and at own >= 2C the plan
 * cannot exceed the budget, so the loop ends. */
#include "plan.h"

#include <stdlib.h>

/* Smallest tensor with a code of its own. A segment costs about 60 bytes
 * of compressed index, and EXP saves about a quarter of a BF16 tensor
 * over zstd, so a code pays from a few hundred bytes on. Measured on GPT-2
 * (tensors of 1536 bytes and up): any value up to 1536 keeps the file byte
 * for byte; 2048 and up (its 110 biases and norms sharing one code per
 * run) costs 11-33 KB. */
#define DF11_PLAN_OWN_MIN 512u
/* Smallest run of small tensors that shares one code. Measured on files of
 * 10,000 tiny BF16 and F32 tensors in runs of 1-50 (tests/gen/
 * tiny_tensors.py BF16,F32): runs from 512 bytes gave 39 chunks for 3
 * chunks' worth of data, from 16 KiB 4 chunks for 1.5% more bytes. */
#define DF11_PLAN_RUN_MIN (16u << 10)
/* Segments allowed beyond one per chunk of the file. */
#define DF11_PLAN_SEGMENT_SLACK 64u

/* What a tensor's bytes are: its segment kind, and for runs of small
 * tensors its dtype, since BF16 and F16 share a kind but a shared code
 * would mix two unrelated symbol distributions. */
enum { CLASS_BYTES, CLASS_BF16, CLASS_F16, CLASS_F32 };
static const uint8_t class_kind[] = {DF11_SEG_BYTES, DF11_SEG_EXP16, DF11_SEG_EXP16, DF11_SEG_EXP32};

typedef struct {
    uint64_t begin, end;
    uint8_t cls;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static uint8_t class_of(const df11_st_tensor *t)
{
    uint64_t len = t->end - t->begin;
    if (!t->elements_ok || len == 0) return CLASS_BYTES;
    bool w2 = t->elements <= UINT64_MAX / 2 && len == 2 * t->elements;
    if (strcmp(t->dtype, "BF16") == 0 && w2) return CLASS_BF16;
    if (strcmp(t->dtype, "F16") == 0 && w2) return CLASS_F16;
    if (strcmp(t->dtype, "F32") == 0 && t->elements <= UINT64_MAX / 4 && len == 4 * t->elements)
        return CLASS_F32;
    return CLASS_BYTES;
}

static bool push(df11_plan *p, uint64_t begin, uint64_t end, uint8_t kind)
{
    if (begin == end) return true;
    if (kind == DF11_SEG_BYTES && p->count > 0 && p->segs[p->count - 1].kind == DF11_SEG_BYTES) {
        p->segs[p->count - 1].length += end - begin; /* merge runs of plain bytes */
        return true;
    }
    if (p->count == p->cap) {
        uint32_t cap = p->cap ? 2 * p->cap : 64;
        df11_plan_seg *s = realloc(p->segs, cap * sizeof *s);
        if (!s) return false;
        p->segs = s;
        p->cap = cap;
    }
    p->segs[p->count++] = (df11_plan_seg){begin, end - begin, kind};
    return true;
}

/* A run of adjacent small tensors of one dtype: one EXP segment if it is
 * big enough to pay for its code, plain bytes otherwise. */
static bool flush_run(df11_plan *p, span *run, uint64_t own)
{
    uint64_t min = own > DF11_PLAN_RUN_MIN ? own : DF11_PLAN_RUN_MIN;
    bool ok = push(p, run->begin, run->end, run->end - run->begin >= min ? class_kind[run->cls] : DF11_SEG_BYTES);
    run->begin = run->end = 0;
    return ok;
}

/* The plan for one threshold; spans sorted, non-empty, classes final. */
static bool plan_spans(df11_plan *p, const span *sp, size_t ns, uint64_t data_start, uint64_t size,
                       uint64_t own)
{
    p->count = 0;
    span run = {0, 0, CLASS_BYTES};
    uint64_t cursor = data_start;
    bool ok = push(p, 0, data_start, DF11_SEG_BYTES);
    for (size_t i = 0; ok && i < ns; i++) {
        if (sp[i].end <= cursor) continue;
        uint64_t b = sp[i].begin > cursor ? sp[i].begin : cursor;
        /* a tensor cut short by an earlier one keeps its bytes as they are */
        uint8_t cls = b == sp[i].begin ? sp[i].cls : CLASS_BYTES;
        bool small = cls != CLASS_BYTES && sp[i].end - b < own;
        if (run.end > run.begin && !(small && cls == run.cls && b == run.end))
            ok = flush_run(p, &run, own);
        ok = ok && push(p, cursor, b, DF11_SEG_BYTES);
        if (small) {
            if (run.end == run.begin) run = (span){b, b, cls};
            run.end = sp[i].end;
        } else {
            ok = ok && push(p, b, sp[i].end, class_kind[cls]);
        }
        cursor = sp[i].end;
    }
    if (ok && run.end > run.begin) ok = flush_run(p, &run, own);
    return ok && push(p, cursor, size, DF11_SEG_BYTES);
}

df11_status df11_plan_file(int fd, const char *path, uint64_t size, uint32_t chunk_log2,
                           df11_plan *p, df11_error *err)
{
    memset(p, 0, sizeof *p);
    uint8_t lenbuf[8];
    if (size < 8) return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset 0: not a safetensors file: shorter than 8 bytes", path);
    df11_status s = df11_fd_read_exact(fd, path, lenbuf, 8, 0, err);
    if (s != DF11_OK) return s;
    uint64_t hlen = df11_rd64(lenbuf);
    if (hlen > DF11_ST_MAX_HEADER || hlen > size - 8)
        return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset 0: not a safetensors file: header length %llu is impossible",
                         path, (unsigned long long)hlen);
    uint8_t *json = malloc(hlen ? hlen : 1);
    if (!json) return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    df11_st_header h;
    s = df11_fd_read_exact(fd, path, json, hlen, 8, err);
    if (s == DF11_OK) s = df11_st_parse(path, json, hlen, size, &h, err);
    free(json);
    if (s != DF11_OK) return s;

    span *sp = calloc(h.count ? h.count : 1, sizeof *sp);
    bool ok = sp != NULL;
    size_t ns = 0; /* empty tensors own no bytes: leave them out */
    for (size_t i = 0; ok && i < h.count; i++)
        if (h.tensors[i].end > h.tensors[i].begin)
            sp[ns++] = (span){h.tensors[i].begin, h.tensors[i].end, class_of(&h.tensors[i])};
    if (ok) qsort(sp, ns, sizeof *sp, by_begin);
    for (size_t i = 1; ok && i < ns; i++)
        if (sp[i].begin < sp[i - 1].end) { /* overlapping tensors: keep their bytes as they are */
            for (size_t j = 0; j < ns; j++) sp[j].cls = CLASS_BYTES;
            break;
        }
    uint64_t chunk = 1ull << chunk_log2;
    uint64_t budget = size / chunk + DF11_PLAN_SEGMENT_SLACK;
    for (uint64_t own = DF11_PLAN_OWN_MIN; ok; own *= 2) {
        ok = plan_spans(p, sp, ns, h.data_start, size, own);
        if (p->count <= budget || own >= 2 * chunk) break;
    }
    free(sp);
    df11_st_free(&h);
    if (!ok) {
        df11_plan_free(p);
        return df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    }
    return DF11_OK;
}

void df11_plan_free(df11_plan *p)
{
    free(p->segs);
    p->segs = NULL;
    p->count = p->cap = 0;
}
