#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

/* df11_verify may report from several threads, and messages from the main
 * thread erase the bar: one lock for the terminal line. */
static pthread_mutex_t screen = PTHREAD_MUTEX_INITIALIZER;
static int drawn;

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_begin(progress *p, const char *label)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->start = cli_now();
    p->enabled = cli_verbosity >= 1 && isatty(STDERR_FILENO);
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

static void draw(progress *p, uint64_t done, uint64_t total, double now)
{
    char d[32], t[32], r[32], bar[64];
    double frac = total ? (double)done / (double)total : 1.0;
    double el = now - p->start;
    msg_size(d, sizeof d, (double)done);
    msg_size(t, sizeof t, (double)total);
    msg_size(r, sizeof r, el > 0 ? (double)done / el : 0);
    int width = term_width() - 60;
    if (width > (int)sizeof bar - 1)
        width = (int)sizeof bar - 1;
    if (width < 10)
        width = 10;
    int fill = (int)(frac * width);
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = 0;
    /* Keep the label short enough that the line never wraps. */
    const char *label = p->label;
    size_t ll = strlen(label);
    if (ll > 24)
        label += ll - 24;
    fprintf(stderr, "\r\033[K%s [%s] %3d%% %s/%s %s/s", label, bar,
            (int)(frac * 100), d, t, r);
    fflush(stderr);
    drawn = 1;
}

void progress_update(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    if (!p || !p->enabled)
        return;
    double now = cli_now();
    pthread_mutex_lock(&screen);
    if (now - p->start >= 0.5 && now - p->last_draw >= 0.1) {
        p->last_draw = now;
        draw(p, done, total, now);
    }
    pthread_mutex_unlock(&screen);
}

void progress_clear_line(void)
{
    pthread_mutex_lock(&screen);
    if (drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        drawn = 0;
    }
    pthread_mutex_unlock(&screen);
}

void progress_end(progress *p)
{
    if (p->enabled)
        progress_clear_line();
    p->enabled = 0;
}
