#include "summary.h"

#include <stdio.h>
#include <stdlib.h>

#include "escape.h"
#include "msg.h"
#include "progress.h"

const char *summary_size(char *buf, size_t n, uint64_t bytes)
{
    static const char *unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    double v = (double)bytes;
    int u = 0;
    /* 999.95 would print as "1000.0": move up a unit before that. */
    while (v >= 999.95 && u < 5) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, n, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

void summary_line(const char *in, uint64_t before, uint64_t after, const char *out,
                  const char *tail)
{
    if (cli_verbosity < 1)
        return;
    char a[32], b[32];
    char *ei = esc_text(in, ESC_MSG), *eo = esc_text(out, ESC_MSG);
    progress_clear_line();
    fprintf(stderr, "%s : %.2f%% (%s => %s, %s)%s\n", ei ? ei : in,
            before ? 100.0 * (double)after / (double)before : 100.0,
            summary_size(a, sizeof a, before), summary_size(b, sizeof b, after),
            eo ? eo : out, tail ? tail : "");
    free(ei);
    free(eo);
}
