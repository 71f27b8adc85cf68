/* The safetensors header: 8-byte little-endian length, then a JSON object
 * mapping tensor names to {dtype, shape, data_offsets}, plus __metadata__.
 *
 * Messages say what is wrong (malformed JSON and where, nesting too deep,
 * offsets reversed or not integers, ...), since "not a safetensors file"
 * alone sends a user looking in the wrong place.
 *
 * Tensor names are decoded from the raw JSON text, not taken from cJSON:
 * cJSON keeps a key as a C string, which cuts a name at an escaped NUL
 * (\u0000) and would make "a\u0000b" and "a\u0000c" the same tensor. A NUL
 * in a name is stored as the two bytes C0 80 (the "modified UTF-8" of
 * Java's JNI): the name stays a C string and stays distinct. Every other
 * byte is kept as it is, invalid UTF-8 included. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* A tensor name for a message: control bytes as \xNN (a name must not
 * drive the terminal that shows the message), cut to fit. */
static const char *show_name(char *buf, size_t n, const char *name)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (o + 8 >= n) {
            strcpy(buf + o, "...");
            return buf;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            o += (size_t)snprintf(buf + o, n - o, *p == '\\' ? "\\\\" : "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o] = 0;
    return buf;
}

static df11_status bad_at(df11_error *err, const char *path, uint64_t off, const char *name,
                          const char *what)
{
    char shown[96];
    return df11_fail(err, DF11_E_NOT_SAFETENSORS, "%s: offset %llu: not a safetensors file: %s%s%s%s",
                     path, (unsigned long long)off, name ? "tensor '" : "",
                     name ? show_name(shown, sizeof shown, name) : "", name ? "' " : "", what);
}

static df11_status bad(df11_error *err, const char *path, const char *name, const char *what)
{
    return bad_at(err, path, 8, name, what);
}

/* Why a JSON value is not a safetensors offset or dimension, or NULL when
 * it is one (an integer 0..2^53, exact in a double). */
static const char *u64_problem(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return "is not a number";
    double d = v->valuedouble;
    if (d != d) return "is not a number";
    if (floor(d) != d) return "is not an integer";
    if (d < 0) return "is negative";
    if (d > 9007199254740992.0) return "is too large (above 2^53)";
    *out = (uint64_t)d;
    return NULL;
}

static df11_status parse_offsets(const char *path, const char *name, const cJSON *offs,
                                 uint64_t data_start, uint64_t file_size, uint64_t *b,
                                 uint64_t *e, df11_error *err)
{
    char what[160];
    const char *p = u64_problem(cJSON_GetArrayItem(offs, 0), b);
    const char *q = p ? NULL : u64_problem(cJSON_GetArrayItem(offs, 1), e);
    if (p || q) {
        snprintf(what, sizeof what, "has a data_offsets %s that %s", p ? "begin" : "end", p ? p : q);
        return bad(err, path, name, what);
    }
    if (*b > *e) {
        snprintf(what, sizeof what, "has reversed data_offsets [%llu, %llu] (begin after end)",
                 (unsigned long long)*b, (unsigned long long)*e);
        return bad(err, path, name, what);
    }
    if (*e > file_size - data_start) {
        snprintf(what, sizeof what, "has data_offsets [%llu, %llu] past the end of the data "
                 "(%llu bytes after the header)", (unsigned long long)*b,
                 (unsigned long long)*e, (unsigned long long)(file_size - data_start));
        return bad(err, path, name, what);
    }
    return DF11_OK;
}

static df11_status parse_tensor(const char *path, const cJSON *item, char *name,
                                uint64_t data_start, uint64_t file_size, df11_st_tensor *t,
                                df11_error *err)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return bad(err, path, name, "lacks dtype, shape or data_offsets");
    if (strlen(dtype->valuestring) >= sizeof t->dtype)
        return bad(err, path, name, "has an unknown dtype");
    strcpy(t->dtype, dtype->valuestring);
    uint64_t b = 0, e = 0, elements = 1;
    df11_status s = parse_offsets(path, name, offs, data_start, file_size, &b, &e, err);
    if (s != DF11_OK) return s;
    t->elements_ok = true;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t d;
        const char *p = u64_problem(dim, &d);
        if (p) {
            char what[96];
            snprintf(what, sizeof what, "has a shape entry that %s", p);
            return bad(err, path, name, what);
        }
        if (d != 0 && elements > UINT64_MAX / d) t->elements_ok = false;
        else elements *= d;
    }
    t->elements = t->elements_ok ? elements : 0;
    t->begin = data_start + b;
    t->end = data_start + e;
    t->name = name;
    return DF11_OK;
}

/* --- raw key scan ---------------------------------------------------- */

/* Walks the top-level keys of a header that cJSON has already accepted, so
 * it only has to find its way, not to validate. */
typedef struct {
    const uint8_t *p, *end;
} key_scan;

static void scan_ws(key_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool scan_string(key_scan *s) /* at the opening quote */
{
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\') s->p++;
        else if (*s->p == '"') return ++s->p <= s->end;
    }
    return false;
}

static bool scan_value(key_scan *s)
{
    scan_ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == '"') return scan_string(s);
    if (*s->p != '{' && *s->p != '[') { /* number, true, false, null */
        while (s->p < s->end && !strchr(",}] \t\n\r", *s->p)) s->p++;
        return true;
    }
    size_t depth = 0;
    do {
        if (s->p >= s->end) return false;
        if (*s->p == '"') {
            if (!scan_string(s)) return false;
            continue;
        }
        if (*s->p == '{' || *s->p == '[') depth++;
        else if (*s->p == '}' || *s->p == ']') depth--;
        s->p++;
    } while (depth > 0);
    return true;
}

static int hex4(const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(uint8_t *o, uint32_t c)
{
    if (c == 0) { o[0] = 0xC0; o[1] = 0x80; return 2; } /* modified UTF-8 NUL */
    if (c < 0x80) { o[0] = (uint8_t)c; return 1; }
    if (c < 0x800) { o[0] = (uint8_t)(0xC0 | c >> 6); o[1] = (uint8_t)(0x80 | (c & 63)); return 2; }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | c >> 12); o[1] = (uint8_t)(0x80 | (c >> 6 & 63));
        o[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | c >> 18); o[1] = (uint8_t)(0x80 | (c >> 12 & 63));
    o[2] = (uint8_t)(0x80 | (c >> 6 & 63)); o[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}

/* Decodes the JSON string at s->p (opening quote) into a new C string.
 * NULL on a malformed string or no memory (*nomem says which). */
static char *scan_key(key_scan *s, bool *nomem)
{
    const uint8_t *start = s->p + 1;
    if (s->p >= s->end || *s->p != '"' || !scan_string(s)) return NULL;
    const uint8_t *stop = s->p - 1, *p = start;
    /* Every escape decodes to no more bytes than its text, \u0000 (6) to 2. */
    uint8_t *out = malloc((size_t)(stop - start) + 1), *o = out;
    if (!out) { *nomem = true; return NULL; }
    while (p < stop) {
        if (*p != '\\') { *o++ = *p++; continue; }
        if (++p >= stop) goto fail;
        char c = (char)*p++;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = strchr(from, c);
        if (c && k) { *o++ = (uint8_t)to[k - from]; continue; }
        if (c != 'u') goto fail;
        int u = hex4(p, stop);
        if (u < 0) goto fail;
        p += 4;
        uint32_t cp = (uint32_t)u;
        if (u >= 0xDC00 && u <= 0xDFFF) goto fail;
        if (u >= 0xD800 && u <= 0xDBFF) {
            int l = stop - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2, stop) : -1;
            if (l < 0xDC00 || l > 0xDFFF) goto fail;
            p += 6;
            cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) + ((uint32_t)l - 0xDC00);
        }
        o += put_utf8(o, cp);
    }
    *o = 0;
    return (char *)out;
fail:
    free(out);
    return NULL;
}

/* The next top-level key: past '{' or ',' to the key, then past the ':'
 * and the value, so the next call finds the next key. */
static char *next_key(key_scan *s, bool first, bool *nomem)
{
    scan_ws(s);
    if (s->p >= s->end || *s->p != (first ? '{' : ',')) return NULL;
    s->p++;
    scan_ws(s);
    char *k = scan_key(s, nomem);
    if (!k) return NULL;
    scan_ws(s);
    if (s->p < s->end && *s->p == ':') {
        s->p++;
        if (scan_value(s)) return k;
    }
    free(k);
    return NULL;
}

/* --- parse -------------------------------------------------------------- */

/* Why cJSON refused the text: nesting beyond its limit, or malformed at a
 * byte. */
static df11_status bad_json(const char *path, const uint8_t *json, size_t len,
                            const char *stop, df11_error *err)
{
    size_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = json[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    char what[96];
    if (max > CJSON_NESTING_LIMIT) {
        snprintf(what, sizeof what, "header JSON is nested too deeply (more than %d levels)",
                 CJSON_NESTING_LIMIT);
        return bad(err, path, NULL, what);
    }
    size_t at = stop && stop >= (const char *)json && stop <= (const char *)json + len
                    ? (size_t)(stop - (const char *)json) : 0;
    return bad_at(err, path, 8 + (uint64_t)at, NULL, "header is malformed JSON");
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsArray(v)) return "header is JSON but an array, not an object";
    if (cJSON_IsString(v)) return "header is JSON but a string, not an object";
    if (cJSON_IsNumber(v)) return "header is JSON but a number, not an object";
    return "header is JSON but not an object";
}

df11_status df11_st_parse(const char *path, const uint8_t *json, size_t len,
                          uint64_t file_size, df11_st_header *out, df11_error *err)
{
    memset(out, 0, sizeof *out);
    out->data_start = 8 + (uint64_t)len;
    if (out->data_start > file_size) return bad(err, path, NULL, "header longer than the file");
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)json, len, &stop, 0);
    if (!root) return bad_json(path, json, len, stop, err);
    if (!cJSON_IsObject(root)) {
        df11_status s = bad(err, path, NULL, json_kind(root));
        cJSON_Delete(root);
        return s;
    }
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) n++;
    out->tensors = calloc(n ? n : 1, sizeof *out->tensors);
    df11_status st = out->tensors ? DF11_OK : df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
    key_scan ks = {json, json + len};
    bool first = true;
    cJSON_ArrayForEach(item, root) {
        if (st != DF11_OK) break;
        /* Keys come in the same order from the scan as from cJSON. */
        bool nomem = false;
        char *name = next_key(&ks, first, &nomem);
        first = false;
        if (!name && !nomem) name = strdup(item->string); /* cannot happen; be safe */
        if (!name) {
            st = df11_fail(err, DF11_E_NOMEM, "%s: out of memory", path);
            break;
        }
        if (strcmp(name, "__metadata__") == 0) {
            free(name);
            if (!cJSON_IsObject(item)) st = bad(err, path, NULL, "__metadata__ is not an object");
            continue;
        }
        st = parse_tensor(path, item, name, out->data_start, file_size, &out->tensors[out->count], err);
        if (st == DF11_OK) out->count++;
        else free(name);
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
