#include "msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "exitcodes.h"
#include "progress.h"

int cli_verbosity = 1;

static void vput(const char *fmt, va_list ap)
{
    /* A progress bar may own the line; wipe it so the message is readable. */
    progress_clear_line();
    /* Messages carry paths and library text that quotes files: control
     * bytes in them are shown escaped, never sent to the terminal. */
    char *buf = NULL;
    if (vasprintf(&buf, fmt, ap) < 0) {
        fputs("df11: out of memory while reporting an error\n", stderr);
        return;
    }
    char *e = esc_text(buf, ESC_MSG);
    fprintf(stderr, "df11: %s\n", e ? e : buf);
    free(e);
    free(buf);
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
