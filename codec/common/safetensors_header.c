/* The safetensors header: 8-byte little-endian length, then a JSON object
 * mapping tensor names to {dtype, shape, data_offsets}, plus __metadata__. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

static bool as_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

static df11_status bad(df11_error *err, const char *path, const char *name, const char *what)
{
    return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset 8: not a safetensors file: %s%s%s",
                     path, name ? "tensor '" : "", name ? name : "",
                     what);
}

static df11_status parse_tensor(const char *path, const cJSON *item, uint64_t data_start,
                                uint64_t file_size, df11_st_tensor *t, df11_error *err)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return bad(err, path, item->string, "' lacks dtype, shape or data_offsets");
    if (strlen(dtype->valuestring) >= sizeof t->dtype)
        return bad(err, path, item->string, "' has an unknown dtype");
    strcpy(t->dtype, dtype->valuestring);
    uint64_t b, e, elements = 1;
    if (!as_u64(cJSON_GetArrayItem(offs, 0), &b) || !as_u64(cJSON_GetArrayItem(offs, 1), &e) ||
        b > e || e > file_size - data_start)
        return bad(err, path, item->string, "' has data_offsets outside the file");
    t->elements_ok = true;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t d;
        if (!as_u64(dim, &d)) return bad(err, path, item->string, "' has a bad shape");
        if (d != 0 && elements > UINT64_MAX / d) t->elements_ok = false;
        else elements *= d;
    }
    t->elements = t->elements_ok ? elements : 0;
    t->begin = data_start + b;
    t->end = data_start + e;
    t->name = strdup(item->string);
    return t->name ? DF11_OK : df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
}

df11_status df11_st_parse(const char *path, const uint8_t *json, size_t len,
                          uint64_t file_size, df11_st_header *out, df11_error *err)
{
    memset(out, 0, sizeof *out);
    out->data_start = 8 + (uint64_t)len;
    if (out->data_start > file_size) return bad(err, path, NULL, "header longer than the file");
    cJSON *root = cJSON_ParseWithLength((const char *)json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(err, path, NULL, "header is not a JSON object");
    }
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) n += strcmp(item->string, "__metadata__") != 0;
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    df11_status st = out->tensors ? DF11_OK : df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    cJSON_ArrayForEach(item, root) {
        if (st != DF11_OK) break;
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item)) st = bad(err, path, NULL, "__metadata__ is not an object");
            continue;
        }
        st = parse_tensor(path, item, out->data_start, file_size, &out->tensors[out->count], err);
        if (st == DF11_OK) out->count++;
    }
    cJSON_Delete(root);
    if (st != DF11_OK) df11_st_free(out);
    return st;
}

void df11_st_free(df11_st_header *h)
{
    for (size_t i = 0; i < h->count; i++) free(h->tensors[i].name);
    free(h->tensors);
    h->tensors = NULL;
    h->count = 0;
}
