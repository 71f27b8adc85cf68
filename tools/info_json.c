/* 'df11 info --json': the same data as the table, built with cJSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "escape.h"
#include "exitcodes.h"
#include "info.h"
#include "msg.h"

/* JSON numbers are doubles: exact for every size below 2^53 bytes. */
static void num(cJSON *o, const char *k, uint64_t v)
{
    cJSON_AddNumberToObject(o, k, (double)v);
}

static void frac(cJSON *o, const char *k, double a, uint64_t b, double scale)
{
    if (b)
        cJSON_AddNumberToObject(o, k, scale * a / (double)b);
    else
        cJSON_AddNullToObject(o, k);
}

/* Strings that come from the file (names, dtypes) or the command line go
 * in through esc_json, never raw: cJSON would copy invalid UTF-8 into the
 * output and cannot hold a NUL. Returns 1 when bytes were replaced by
 * U+FFFD, so the caller can add the exact bytes. */
static int str(cJSON *o, const char *k, const char *v)
{
    int lossy = 0;
    char *j = esc_json(v, &lossy);
    if (j)
        cJSON_AddRawToObject(o, k, j);
    else
        cJSON_AddNullToObject(o, k);
    free(j);
    return lossy;
}

static cJSON *total(const info_dtype_total *t)
{
    cJSON *o = cJSON_CreateObject();
    str(o, "dtype", t->dtype);
    num(o, "tensors", t->tensors);
    num(o, "elements", t->elements);
    num(o, "bytes", t->length);
    num(o, "stored_bytes", t->stored);
    frac(o, "bits_per_weight", (double)t->stored, t->elements, 8.0);
    frac(o, "ratio", (double)t->stored, t->length, 1.0);
    return o;
}

int info_print_json(const info_data *d)
{
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d->sha256[i]);
    cJSON *root = cJSON_CreateObject();
    if (str(root, "file", d->path)) {
        char *h = esc_hex(d->path);
        cJSON_AddStringToObject(root, "file_hex", h ? h : "");
        free(h);
    }
    num(root, "original_size", d->original_size);
    num(root, "stored_size", d->stored_size);
    frac(root, "ratio", (double)d->stored_size, d->original_size, 1.0);
    num(root, "overhead_bytes", d->overhead);
    num(root, "chunk_count", d->chunks);
    num(root, "chunk_size", d->chunk_size);
    {
        char v[24];
        snprintf(v, sizeof v, "%u.%u", d->format.major, d->format.minor);
        cJSON_AddStringToObject(root, "format", v);
        cJSON *f = cJSON_AddArrayToObject(root, "features");
        for (unsigned k = 0; f && k < d->format.feature_count; k++)
            cJSON_AddItemToArray(f, cJSON_CreateString(d->format.features[k]));
    }
    cJSON_AddStringToObject(root, "sha256", hex);
    cJSON_AddBoolToObject(root, "safetensors", d->is_safetensors);
    num(root, "tensor_count", d->ntensors);
    cJSON *arr = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; i < d->ntensors; i++) {
        const df11_tensor *t = &d->tensors[i];
        cJSON *o = cJSON_CreateObject();
        if (str(o, "name", t->name)) {
            /* Not UTF-8: "name" is lossy, so give the exact bytes too. */
            char *h = esc_hex(t->name);
            cJSON_AddStringToObject(o, "name_hex", h ? h : "");
            free(h);
        }
        str(o, "dtype", t->dtype);
        cJSON_AddStringToObject(o, "codec", info_codec_name(t->codec));
        num(o, "offset", t->offset);
        num(o, "bytes", t->length);
        num(o, "elements", t->elements);
        num(o, "stored_bytes", t->stored_bytes);
        frac(o, "bits_per_weight", (double)t->stored_bytes, t->elements, 8.0);
        frac(o, "ratio", (double)t->stored_bytes, t->length, 1.0);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *by = cJSON_AddArrayToObject(root, "by_dtype");
    for (size_t k = 0; k < d->ndtypes; k++)
        cJSON_AddItemToArray(by, total(&d->dtypes[k]));
    cJSON_AddItemToObject(root, "totals", total(&d->all));
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s)
        return msg_errno(d->path, "building JSON", ENOMEM);
    puts(s);
    free(s);
    return CLI_EXIT_OK;
}
