/*
 * Option parsing shared by every command. Each command names the letters it
 * accepts; long-only options have a capital letter that is never a short
 * option (J --json, L --chunk-log2, Z --zstd-level, X --max, S --no-sha256).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"

static const struct option all_long[] = {
    {"output", required_argument, NULL, 'o'},
    {"stdout", no_argument, NULL, 'c'},
    {"force", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"threads", required_argument, NULL, 'T'},
    {"help", no_argument, NULL, 'h'},
    {"keep", no_argument, NULL, 'k'},
    {"repeat", required_argument, NULL, 'r'},
    {"json", no_argument, NULL, 'J'},
    {"chunk-log2", required_argument, NULL, 'L'},
    {"zstd-level", required_argument, NULL, 'Z'},
    {"max", no_argument, NULL, 'X'},
    {"no-sha256", no_argument, NULL, 'S'},
};
#define N_LONG (sizeof all_long / sizeof all_long[0])

static const char short_letters[] = "ocfqvThkr";

int cli_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

static int parse_int(const char *cmd, const char *opt, const char *s, int lo,
                     int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        msg_error("%s: %s needs a whole number in %d..%d, not '%s'", cmd, opt,
                  lo, hi, s);
        return CLI_EXIT_USAGE;
    }
    *out = (int)v;
    return CLI_EXIT_OK;
}

static int usage_hint(const cli_command *cmd)
{
    fprintf(stderr, "Try 'df11 %s --help'.\n", cmd->name);
    return CLI_EXIT_USAGE;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opts *o)
{
    struct option longs[N_LONG + 1];
    char shorts[2 * sizeof short_letters + 2];
    size_t nl = 0, ns = 0;
    shorts[ns++] = ':'; /* report a missing argument apart from a bad option */
    for (size_t i = 0; i < N_LONG; i++) {
        int c = all_long[i].val;
        if (!strchr(cmd->accepts, c))
            continue;
        longs[nl++] = all_long[i];
        if (strchr(short_letters, c)) {
            shorts[ns++] = (char)c;
            if (all_long[i].has_arg)
                shorts[ns++] = ':';
        }
    }
    memset(&longs[nl], 0, sizeof longs[nl]);
    shorts[ns] = 0;

    memset(o, 0, sizeof *o);
    o->repeat = 5;
    int threads = 0, rc;
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'c': o->to_stdout = 1; break;
        case 'f': o->force = 1; break;
        case 'q': cli_verbosity = 0; break;
        case 'v': cli_verbosity = 2; break;
        case 'k': break; /* sources are always kept; accepted for zstd habits */
        case 'J': o->json = 1; break;
        case 'h':
            fputs(cmd->help, stdout);
            return -1;
        case 'T':
            if ((rc = parse_int(cmd->name, "-T", optarg, 0, 1024, &threads)))
                return usage_hint(cmd);
            break;
        case 'r':
            if ((rc = parse_int(cmd->name, "-r", optarg, 1, 1000, &o->repeat)))
                return usage_hint(cmd);
            break;
        case 'L':
            if ((rc = parse_int(cmd->name, "--chunk-log2", optarg, 16, 20, &o->chunk_log2)))
                return usage_hint(cmd);
            break;
        case 'Z':
            if ((rc = parse_int(cmd->name, "--zstd-level", optarg, 1, 22, &o->zstd_level)))
                return usage_hint(cmd);
            break;
        case 'X':
            o->max = 1;
            break;
        case 'S':
            o->no_sha256 = 1;
            break;
        case ':':
            msg_error("%s: option '%s' needs an argument", cmd->name, argv[optind - 1]);
            return usage_hint(cmd);
        default:
            if (optopt)
                msg_error("%s: unknown option '-%c'", cmd->name, optopt);
            else
                msg_error("%s: unknown option '%s'", cmd->name, argv[optind - 1]);
            return usage_hint(cmd);
        }
    }
    o->threads = threads > 0 ? threads : cli_online_cores();
    o->inputs = argv + optind;
    o->ninputs = argc - optind;
    if (o->ninputs < cmd->min_inputs) {
        msg_error("%s: missing file operand", cmd->name);
        return usage_hint(cmd);
    }
    if (cmd->max_inputs && o->ninputs > cmd->max_inputs) {
        msg_error("%s: takes at most %d file%s", cmd->name, cmd->max_inputs,
                  cmd->max_inputs == 1 ? "" : "s");
        return usage_hint(cmd);
    }
    /* Every check of the command line comes here, before any work: an
     * empty -o found only at the rename would cost a whole compression. */
    if (o->output && !*o->output) {
        msg_error("%s: -o needs a file name, not an empty string", cmd->name);
        return usage_hint(cmd);
    }
    if (o->output && o->ninputs > 1) {
        msg_error("%s: -o needs exactly one input", cmd->name);
        return usage_hint(cmd);
    }
    if (o->output && o->to_stdout) {
        msg_error("%s: -o and -c exclude each other", cmd->name);
        return usage_hint(cmd);
    }
    return CLI_EXIT_OK;
}
