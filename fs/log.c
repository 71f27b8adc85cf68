/* log.c - log lines go to stderr in the foreground and to syslog once the
 * daemon has detached (its stderr is /dev/null then). */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "fs.h"

static int log_syslog;

void fs_log_init(int use_syslog)
{
    log_syslog = use_syslog;
    if (use_syslog)
        openlog("df11fs", LOG_PID, LOG_DAEMON);
}

void fs_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (log_syslog) {
        vsyslog(level, fmt, ap);
    } else {
        /* One fprintf per line so lines from threads do not interleave. */
        char line[1024];
        vsnprintf(line, sizeof line, fmt, ap);
        const char *tag = level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "";
        fprintf(stderr, "df11fs: %s%s\n", tag, line);
    }
    va_end(ap);
}

/* A table of recently logged keys: a bad chunk read by every request that
 * touches it, or a name listed by every readdir, is logged once, not once
 * per request. A collision only means one more log line. */
#define ONCE_SLOTS 4096
static _Atomic uint64_t once_keys[ONCE_SLOTS];

int fs_log_first_time(uint64_t key)
{
    key |= 1;           /* 0 marks an empty slot */
    _Atomic uint64_t *slot = &once_keys[(key * 0x9E3779B97F4A7C15ull) >> 52];
    return atomic_exchange_explicit(slot, key, memory_order_relaxed) != key;
}

uint64_t fs_hash_str(uint64_t seed, const char *s)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}
