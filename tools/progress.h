/*
 * A one-line progress bar on stderr, drawn only when stderr is a terminal,
 * -q is not given, and the work has already taken half a second (short jobs
 * never flash a bar). progress_update matches the df11.h callback type.
 */
#ifndef DF11_CLI_PROGRESS_H
#define DF11_CLI_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    double start, last_draw;
    int enabled;
} progress;

void progress_begin(progress *p, const char *label);
void progress_update(void *ctx, uint64_t done, uint64_t total);
void progress_end(progress *p);
/* Erases a bar currently on screen, if any (called before messages). */
void progress_clear_line(void);

double cli_now(void); /* monotonic seconds */

#endif
