/*
 * fuzz_http_range: arbitrary range responses through http_check_range
 * (store/http_check.c), the one place that decides whether an HTTP answer
 * is exactly the bytes asked for. Input: 2 bytes of status, 8 of offset,
 * 4 of length, 4 of body length, 1 of flags (bit 0: a Content-Length
 * header, bit 1: an expected object size, then 8 bytes of it), then the
 * Content-Range value, a NUL, and the Content-Length value.
 *
 * Oracle, written apart from the checker: an accepted answer has a body
 * of exactly the length asked; a 206 names exactly [off, off+len-1] in a
 * Content-Range that an independent parser reads the same way, and a 200
 * is a whole object starting at 0 of exactly that length. A message is
 * always given for a refusal, and the status is one of the three allowed.
 */
#ifndef DF11_REPLAY
#include "../../store/http_check.c"
#else
#include "int.h"
#endif

#include <stdio.h>
#include <stdlib.h>

static uint64_t fh_rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fh_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_range: %s\n", what);
        abort();
    }
}

/* "bytes A-B/T" or "bytes A-B/" followed by a star, nothing else: the
 * oracle's own reading. */
static int fh_range(const char *s, uint64_t *a, uint64_t *b)
{
    char rest;
    unsigned long long x, y, t;
    if (sscanf(s, "bytes %llu-%llu/%llu%c", &x, &y, &t, &rest) == 3 ||
        sscanf(s, "bytes %llu-%llu/*%c", &x, &y, &rest) == 2) {
        *a = x;
        *b = y;
        return 1;
    }
    return 0;
}

int fuzz_http_range(const uint8_t *data, size_t size)
{
    if (size < 19)
        return 0;
    long status = (long)fh_rd(data, 2) % 700;
    uint64_t off = fh_rd(data + 2, 8) >> (data[2] & 31);
    uint64_t len = fh_rd(data + 10, 4) + 1;
    uint64_t body = fh_rd(data + 14, 4);
    uint8_t flags = data[18];
    size_t at = 19;
    uint64_t expect = UINT64_MAX;
    if ((flags & 2) && size >= at + 8) {
        expect = fh_rd(data + at, 8);
        at += 8;
    }
    /* The two header values, NUL-terminated copies. */
    size_t rest = size - at;
    char *buf = malloc(rest + 2);
    if (!buf)
        return 0;
    memcpy(buf, data + at, rest);
    buf[rest] = buf[rest + 1] = 0;
    const char *cr = buf;
    const char *cl = buf + strlen(buf) + 1;
    if (cl > buf + rest)
        cl = buf + rest + 1;
    uint64_t total;
    char msg[256];
    df11_status st = http_check_range(status, rest ? cr : NULL, (flags & 1) ? cl : NULL, body, off,
                                      len, expect, &total, msg, sizeof msg);
    fh_require(st == DF11_OK || st == DF11_E_AGAIN || st == DF11_E_IO, "unexpected status");
    fh_require(st == DF11_OK || msg[0], "a refusal without a message");
    if (st == DF11_OK) {
        fh_require(body == len, "accepted a body of another length than asked");
        if (status == 206) {
            uint64_t a, b;
            fh_require(rest > 0, "accepted a 206 without Content-Range");
            if (fh_range(cr, &a, &b))
                fh_require(a == off && b == off + len - 1, "accepted a Content-Range for other bytes");
        } else {
            fh_require(status == 200 && off == 0, "accepted something other than 206 or a whole 200");
            fh_require(expect == UINT64_MAX || expect == len, "accepted a whole object of another size");
        }
    }
    free(buf);
    return 0;
}

#ifndef DF11_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_http_range(data, size);
}
#endif
