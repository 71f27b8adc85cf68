/* Messages on stderr, prefixed "df11: ", filtered by -q / -v. */
#ifndef DF11_CLI_MSG_H
#define DF11_CLI_MSG_H

#include "df11.h"

extern int cli_verbosity; /* 0 quiet (-q), 1 default, 2 verbose (-v) */

void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a library error (its message names file and offset) and returns
 * the exit code for its class. */
int msg_lib_error(const df11_error *e);
/* Prints "df11: PATH: strerror(err)" with what failed; returns the exit
 * code for err. */
int msg_errno(const char *path, const char *what, int err);
/* "12.3 MiB" into buf. */
const char *msg_size(char *buf, size_t n, double bytes);

#endif
