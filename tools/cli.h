/*
 * Shared command-line state of the df11 tool: the parsed options and the
 * table entry every command file exports.
 */
#ifndef DF11_CLI_H
#define DF11_CLI_H

#include "df11.h"
#include "exitcodes.h"

typedef struct {
    const char *output;  /* -o */
    int to_stdout;       /* -c */
    int force;           /* -f */
    int threads;         /* -T, resolved to >= 1 */
    int json;            /* --json */
    int repeat;          /* -r */
    int zstd_level;      /* --zstd-level, 0 = library default */
    int chunk_log2;      /* --chunk-log2, 0 = library default */
    int max;             /* --max: the ANS codec for BF16 too */
    int no_sha256;       /* --no-sha256: chunk checksums only */
    char **inputs;
    int ninputs;
} cli_opts;

typedef struct {
    const char *name;
    /* Option letters the command accepts (see opts.c for the letter of each
     * long-only option). */
    const char *accepts;
    const char *synopsis; /* one line for the global help */
    const char *help;     /* full text for "df11 CMD --help" */
    int min_inputs, max_inputs; /* max 0: unlimited */
    int (*run)(const cli_opts *o);
} cli_command;

extern const cli_command cmd_compress, cmd_decompress, cmd_verify, cmd_info,
    cmd_bench;

/* Parses argv (argv[0] is the command name). Returns CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing why, or -1 when --help was printed. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opts *o);

int cli_online_cores(void);

#endif
