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
