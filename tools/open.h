/* Opening a .df11 file the way every reading command reports it. */
#ifndef DF11_CLI_OPEN_H
#define DF11_CLI_OPEN_H

#include "df11.h"

/* df11_open(path); on failure prints the library's message and returns the
 * exit code for it (a short non-.df11 file is a format error, not a corrupt
 * one), else CLI_EXIT_OK with *r open. */
int cli_open(const char *path, df11_reader **r);

#endif
