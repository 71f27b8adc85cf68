#include "msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "progress.h"

int cli_verbosity = 1;

static void vput(const char *fmt, va_list ap)
{
    /* A progress bar may own the line; wipe it so the message is readable. */
    progress_clear_line();
    fputs("df11: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void msg_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(fmt, ap);
    va_end(ap);
}

void msg_warn(const char *fmt, ...)
{
    if (cli_verbosity < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vput(fmt, ap);
    va_end(ap);
}

void msg_info(const char *fmt, ...)
{
    if (cli_verbosity < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    vput(fmt, ap);
    va_end(ap);
}

int msg_lib_error(const df11_error *e)
{
    msg_error("%s (%s)", e->message[0] ? e->message : "unknown error",
              df11_status_name(e->code));
    return cli_exit_for_status(e->code);
}

int msg_errno(const char *path, const char *what, int err)
{
    msg_error("%s: %s: %s", path, what, strerror(err));
    return cli_exit_for_errno(err);
}

const char *msg_size(char *buf, size_t n, double bytes)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}
