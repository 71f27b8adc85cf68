/* http_check.c - is a range response the exact bytes asked for? A pure
 * function of the status, the two headers and the body length, so the
 * tests can feed it every wrong answer a server or a proxy can give. */
#include <inttypes.h>
#include <stdlib.h>
#include <strings.h>

#include "int.h"

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    *p = s;
    *out = v;
    return true;
}

static bool parse_length(const char *s, uint64_t *v)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!parse_u64(&s, v))
        return false;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == 0;
}

/* "bytes A-B/T" (T may be "*"); *t = UINT64_MAX for "*". */
static bool parse_content_range(const char *s, uint64_t *a, uint64_t *b, uint64_t *t)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncasecmp(s, "bytes", 5) != 0)
        return false;
    s += 5;
    if (*s != ' ' && *s != '=')
        return false;
    while (*s == ' ' || *s == '=')
        s++;
    if (!parse_u64(&s, a) || *s++ != '-' || !parse_u64(&s, b) || *s++ != '/')
        return false;
    if (*s == '*') {
        *t = UINT64_MAX;
        s++;
    } else if (!parse_u64(&s, t)) {
        return false;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == 0 && *a <= *b && (*t == UINT64_MAX || *b < *t);
}

df11_status http_check_range(long status, const char *content_range,
                             const char *content_length, uint64_t body_len,
                             uint64_t off, uint64_t len, uint64_t expect_size,
                             uint64_t *total, char *msg, size_t msg_cap)
{
    *total = UINT64_MAX;
    msg[0] = 0;
    uint64_t cl = 0;
    bool has_cl = content_length && parse_length(content_length, &cl);
    if (content_length && !has_cl) {
        snprintf(msg, msg_cap, "unreadable Content-Length");
        return DF11_E_AGAIN;
    }
    if (status == 206) {
        uint64_t a, b, t;
        if (!content_range || !parse_content_range(content_range, &a, &b, &t)) {
            snprintf(msg, msg_cap, "206 without a valid Content-Range");
            return DF11_E_AGAIN;
        }
        *total = t;
        if (expect_size != UINT64_MAX && t != UINT64_MAX && t != expect_size) {
            snprintf(msg, msg_cap, "object is %" PRIu64 " bytes at the origin, the manifest says %" PRIu64
                     " (a store being published? refresh the manifest)", t, expect_size);
            return DF11_E_IO;
        }
        if (a != off || b - a + 1 != len) {
            snprintf(msg, msg_cap, "Content-Range %" PRIu64 "-%" PRIu64 " for a request of %" PRIu64 "-%" PRIu64,
                     a, b, off, off + len - 1);
            return DF11_E_AGAIN;
        }
    } else if (status == 200) {
        /* A server that ignores Range sends the whole object: right only
         * when the whole object is what was asked. */
        if (off != 0 || !has_cl || cl != len || (expect_size != UINT64_MAX && cl != expect_size)) {
            snprintf(msg, msg_cap, "the server ignored the range (200 instead of 206)");
            return off == 0 && has_cl && cl < len ? DF11_E_IO : DF11_E_AGAIN;
        }
        *total = cl;
    } else if (status == 416) {
        snprintf(msg, msg_cap, "HTTP 416: range not satisfiable (object shorter than the manifest says?)");
        return DF11_E_IO;
    } else if (status >= 500 || status == 408 || status == 429) {
        snprintf(msg, msg_cap, "HTTP %ld", status);
        return DF11_E_AGAIN;
    } else {
        snprintf(msg, msg_cap, "HTTP %ld%s", status,
                 status == 403 ? " Forbidden (credentials?)" : status == 404 ? " Not Found"
                 : status == 401 ? " Unauthorized" : "");
        return DF11_E_IO;
    }
    if (has_cl && cl != body_len) {
        snprintf(msg, msg_cap, "body of %" PRIu64 " bytes, Content-Length %" PRIu64, body_len, cl);
        return DF11_E_AGAIN;
    }
    if (body_len != len) {
        snprintf(msg, msg_cap, "body of %" PRIu64 " bytes for a range of %" PRIu64, body_len, len);
        return DF11_E_AGAIN;
    }
    return DF11_OK;
}
