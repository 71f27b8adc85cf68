/* df11 info: per-tensor and whole-file statistics of a .df11 file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "info.h"
#include "msg.h"
#include "input.h"

const char *info_codec_name(df11_codec c)
{
    switch (c) {
    case DF11_CODEC_RAW: return "RAW";
    case DF11_CODEC_ZSTD: return "ZSTD";
    case DF11_CODEC_EXP: return "EXP";
    case DF11_CODEC_MIXED: return "MIXED";
    case DF11_CODEC_ANS: return "ANS";
    case DF11_CODEC_EXP_HI: return "EXPHI";
    case DF11_CODEC_ANS_IL: return "ANS_IL";
    case DF11_CODEC_EXP_LZ: return "EXP_LZ";
    case DF11_CODEC_ANS_IL_LZ: return "ANS_IL_LZ";
    }
    return "?";
}

static void add(info_dtype_total *t, const df11_tensor *x)
{
    t->tensors++;
    t->elements += x->elements;
    t->length += x->length;
    t->stored += x->stored_bytes;
}

static int gather(df11_reader *r, info_data *d)
{
    d->original_size = df11_original_size(r);
    d->stored_size = df11_stored_size(r);
    d->overhead = df11_overhead_bytes(r);
    d->chunks = df11_chunk_count(r);
    d->chunk_size = df11_chunk_size_max(r);
    df11_format(r, &d->format);
    d->sha256 = df11_original_sha256(r);
    df11_error err;
    df11_status s = df11_tensor_count(r, &d->ntensors, &err);
    if (s == DF11_E_NOT_SAFETENSORS) {
        d->ntensors = 0;
        return CLI_EXIT_OK; /* still a fine .df11 file; just no tensor table */
    }
    if (s != DF11_OK)
        return msg_lib_error(&err);
    d->is_safetensors = 1;
    d->tensors = calloc(d->ntensors ? d->ntensors : 1, sizeof *d->tensors);
    d->dtypes = calloc(d->ntensors ? d->ntensors : 1, sizeof *d->dtypes);
    if (!d->tensors || !d->dtypes)
        return msg_errno(d->path, "allocating", ENOMEM);
    for (size_t i = 0; i < d->ntensors; i++) {
        df11_tensor *t = &d->tensors[i];
        if ((s = df11_tensor_get(r, i, t, &err)) != DF11_OK)
            return msg_lib_error(&err);
        size_t k = 0;
        while (k < d->ndtypes && strcmp(d->dtypes[k].dtype, t->dtype) != 0)
            k++;
        if (k == d->ndtypes)
            d->dtypes[d->ndtypes++].dtype = t->dtype;
        add(&d->dtypes[k], t);
        add(&d->all, t);
    }
    d->all.dtype = "all";
    return CLI_EXIT_OK;
}

static void fmt_bpw(char *b, size_t n, uint64_t stored, uint64_t elements)
{
    if (elements)
        snprintf(b, n, "%.3f", 8.0 * (double)stored / (double)elements);
    else
        snprintf(b, n, "-");
}

static void fmt_ratio(char *b, size_t n, uint64_t stored, uint64_t length)
{
    if (length)
        snprintf(b, n, "%.2f%%", 100.0 * (double)stored / (double)length);
    else
        snprintf(b, n, "-");
}

/* Names and dtypes come from the file: shown with C-style escapes, so a
 * name cannot move the cursor or recolour the terminal. */
static const char *shown(char **keep, const char *s)
{
    *keep = esc_text(s, ESC_TEXT);
    return *keep ? *keep : "?";
}

static int print_text(const info_data *d)
{
    char a[32], b[32], c[32];
    int w = 6;
    char **names = calloc(d->ntensors ? d->ntensors : 1, sizeof *names);
    if (!names)
        return msg_errno(d->path, "allocating", ENOMEM);
    for (size_t i = 0; i < d->ntensors; i++) {
        int l = (int)strlen(shown(&names[i], d->tensors[i].name));
        if (l > w)
            w = l < 60 ? l : 60;
    }
    char *keep;
    printf("%s\n", shown(&keep, d->path));
    free(keep);
    if (!d->is_safetensors)
        printf("  (the original is not a safetensors file: no tensor table)\n");
    if (d->ntensors) {
        printf("  %-*s %-8s %-5s %14s %10s %8s\n", w, "tensor", "dtype", "codec",
               "elements", "bits/wt", "ratio");
        for (size_t i = 0; i < d->ntensors; i++) {
            const df11_tensor *t = &d->tensors[i];
            fmt_bpw(a, sizeof a, t->stored_bytes, t->elements);
            fmt_ratio(b, sizeof b, t->stored_bytes, t->length);
            printf("  %-*s %-8s %-5s %14llu %10s %8s\n", w, names[i] ? names[i] : "?",
                   shown(&keep, t->dtype), info_codec_name(t->codec),
                   (unsigned long long)t->elements, a, b);
            free(keep);
        }
        printf("\n  %-8s %8s %14s %12s %12s %10s %8s\n", "dtype", "tensors",
               "elements", "bytes", "stored", "bits/wt", "ratio");
        for (size_t k = 0; k <= d->ndtypes; k++) {
            const info_dtype_total *t = k < d->ndtypes ? &d->dtypes[k] : &d->all;
            fmt_bpw(a, sizeof a, t->stored, t->elements);
            fmt_ratio(b, sizeof b, t->stored, t->length);
            printf("  %-8s %8zu %14llu %12llu %12llu %10s %8s\n", shown(&keep, t->dtype),
                   t->tensors, (unsigned long long)t->elements,
                   (unsigned long long)t->length, (unsigned long long)t->stored, a, b);
            free(keep);
        }
    }
    for (size_t i = 0; i < d->ntensors; i++)
        free(names[i]);
    free(names);
    fmt_ratio(c, sizeof c, d->stored_size, d->original_size);
    printf("\n  tensors        %zu\n", d->ntensors);
    printf("  original size  %llu bytes (%s)\n", (unsigned long long)d->original_size,
           msg_size(a, sizeof a, (double)d->original_size));
    printf("  stored size    %llu bytes (%s), %s of the original\n",
           (unsigned long long)d->stored_size,
           msg_size(b, sizeof b, (double)d->stored_size), c);
    fmt_ratio(c, sizeof c, d->overhead, d->stored_size);
    printf("  overhead       %llu bytes (%s of the stored size: header, tables, "
           "lane lengths)\n", (unsigned long long)d->overhead, c);
    printf("  chunks         %u of up to %u bytes\n", d->chunks, d->chunk_size);
    /* which readers can read it: the version is the oldest one */
    printf("  format         %u.%u", d->format.major, d->format.minor);
    for (unsigned k = 0; k < d->format.feature_count; k++)
        printf("%s%s", k ? ", " : ", needs ", d->format.features[k]);
    printf("\n");
    printf("  sha256         ");
    for (int i = 0; i < 32; i++)
        printf("%02x", d->sha256[i]);
    printf("\n");
    return CLI_EXIT_OK;
}

static int run(const cli_opts *o)
{
    const char *path = o->inputs[0];
    df11_reader *r;
    int rc = input_open_df11(path, &r, NULL);
    if (rc)
        return rc;
    info_data d;
    memset(&d, 0, sizeof d);
    d.path = path;
    rc = gather(r, &d);
    if (rc == CLI_EXIT_OK) {
        if (o->json)
            rc = info_print_json(&d);
        else
            rc = print_text(&d);
        if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
            rc = msg_errno("stdout", "writing", errno);
    }
    free(d.tensors);
    free(d.dtypes);
    df11_close(r);
    return rc;
}

const cli_command cmd_info = {
    .name = "info",
    .accepts = "qvhJ",
    .synopsis = "show per-tensor codecs, bits per weight and ratios",
    .min_inputs = 1,
    .max_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 info [--json] FILE.df11\n\n"
        "Reads the header, the index and the original safetensors header\n"
        "(not the tensor data) and prints, per tensor: name, dtype, codec\n"
        "(RAW, ZSTD, EXP or MIXED), elements, stored bits per weight and\n"
        "stored/original ratio; then totals per dtype and for the file,\n"
        "including the bytes spent on headers, tables and lane lengths.\n"
        "Stored bytes of a tensor count the whole chunks it spans.\n\n"
        "Options:\n"
        "  --json      one JSON object on stdout instead of the table\n"
        "  -h, --help  this text\n\n"
        "Names are shown with C-style escapes (--json: JSON escapes, invalid\n"
        "UTF-8 as U+FFFD plus \"name_hex\" with the exact bytes).\n\n"
        "Exit codes: 0 ok, 2 I/O error, 3 not a .df11 file, unsupported\n"
        "version or not a regular file, 4 corrupt header, index or safetensors header chunks,\n"
        "6 out of memory or internal error.\n",
};
