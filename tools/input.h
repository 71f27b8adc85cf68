/*
 * The one rule for input operands, used by every command: only regular
 * files are read. A FIFO would block an open or a read forever, and a
 * socket or device is never a model file, so the type is checked with stat
 * before opening, the open is non-blocking, and the descriptor is checked
 * again after it (the name may have been replaced in between).
 */
#ifndef DF11_CLI_INPUT_H
#define DF11_CLI_INPUT_H

#include <sys/stat.h>

#include "df11.h"

/* CLI_EXIT_OK for a regular file; otherwise prints "PATH: is a FIFO, not a
 * regular file" (or socket, device, ...) and returns CLI_EXIT_FORMAT. */
int input_refuse_special(const char *path, const struct stat *st);

/* Opens path for reading under that rule: *fd (O_CLOEXEC, blocking again)
 * and *st on success. Returns an exit code after printing why. */
int input_open(const char *path, int *fd, struct stat *st);

/* input_open, then a df11 reader over the descriptor; *st (when not NULL)
 * describes the file. A short or empty file that is not a .df11 file is a
 * format error (3), not a corrupt one. */
int input_open_df11(const char *path, df11_reader **r, struct stat *st);

#endif
