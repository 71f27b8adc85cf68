/*
 * Exit codes of the df11 tool. One class of failure per code, so scripts can
 * tell "fix your command line" from "your disk is full" from "this file is
 * damaged" without parsing messages. doc/CLI.md lists the same table.
 */
#ifndef DF11_CLI_EXITCODES_H
#define DF11_CLI_EXITCODES_H

#include "df11.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,    /* bad command line */
    CLI_EXIT_IO = 2,       /* open/read/write/rename failed, input changed */
    CLI_EXIT_FORMAT = 3,   /* input is not what the command takes (not a
                              .df11 or .safetensors file, not a regular
                              file, a folder whose names collide) */
    CLI_EXIT_CORRUPT = 4,  /* a .df11 file is damaged */
    CLI_EXIT_EXISTS = 5,   /* output exists and -f was not given */
    CLI_EXIT_INTERNAL = 6  /* out of memory or a bug */
};

int cli_exit_for_status(df11_status s);
int cli_exit_for_errno(int err);

/* When many files are processed the first failure decides the exit code. */
static inline void cli_keep_first(int *acc, int rc)
{
    if (*acc == CLI_EXIT_OK)
        *acc = rc;
}

#endif
