/* util.c - clocks and a growing string buffer with JSON string escaping. */
#include <stdlib.h>
#include <time.h>

#include "int.h"

int st_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline, int64_t slice_ns)
{
    int64_t left = deadline - st_now_ns();
    if (left <= 0)
        return 0;
    /* the condition variables use CLOCK_REALTIME, the deadline monotonic
     * time: wait for the smaller of what is left and one slice */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_nsec + (left < slice_ns ? left : slice_ns);
    ts.tv_sec += t / 1000000000;
    ts.tv_nsec = t % 1000000000;
    pthread_cond_timedwait(cv, mu, &ts);
    return 1;
}

int64_t st_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void st_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = { ns / 1000000000, ns % 1000000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

void sb_put(sbuf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n + 1)
            c *= 2;
        char *q = realloc(b->buf, c);
        if (!q) {
            b->oom = true;
            return;
        }
        b->buf = q;
        b->cap = c;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = 0;
}

void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

/* Names are bytes: quotes, backslashes and control bytes are escaped,
 * everything else (UTF-8 or not) is kept, and cJSON gives it back as is. */
void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = { '\\', (char)*p };
            sb_put(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, p, 1);
        }
    }
    sb_put(b, "\"", 1);
}
