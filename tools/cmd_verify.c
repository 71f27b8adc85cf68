/* df11 verify: decode everything, check every chunk and the SHA-256. */
#include <stdio.h>

#include "cli.h"
#include "msg.h"
#include "input.h"
#include "progress.h"

static int verify_one(const cli_opts *o, const char *path)
{
    df11_reader *r;
    int rc = input_open_df11(path, &r, NULL);
    if (rc)
        return rc;
    progress p;
    progress_begin(&p, path);
    df11_error err;
    df11_status s = df11_verify(r, o->threads, progress_update, &p, &err);
    progress_end(&p);
    if (s != DF11_OK) {
        rc = msg_lib_error(&err);
    } else if (cli_verbosity >= 1) {
        /* Results go to stdout, like sha256sum -c: they are the output. */
        printf("%s: OK\n", path);
        fflush(stdout);
    }
    df11_close(r);
    return rc;
}

static int run(const cli_opts *o)
{
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < o->ninputs; i++)
        cli_keep_first(&rc, verify_one(o, o->inputs[i]));
    return rc;
}

const cli_command cmd_verify = {
    .name = "verify",
    .accepts = "qvTh",
    .synopsis = "check .df11 files: every chunk checksum and the SHA-256",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 verify [OPTIONS] FILE.df11...\n\n"
        "Decodes every chunk of each file, checks it against its XXH3\n"
        "checksum, and checks the SHA-256 of the whole original. Prints\n"
        "'FILE: OK' on stdout for each good file; errors go to stderr.\n\n"
        "Options:\n"
        "  -T, --threads N   decoding threads (default 0: all cores), at most one\n"
        "                    fewer than the cores: the SHA-256 needs one\n"
        "  -q, --quiet       print nothing for good files\n"
        "  -v, --verbose     same as the default\n"
        "  -h, --help        this text\n\n"
        "Exit codes: 0 every file is good, 2 I/O error, 3 not a .df11 file,\n"
        "unsupported version or not a regular file, 4 corrupt data (checksum, SHA-256, chunk, index\n"
        "or header), 6 out of memory or internal error. With several files\n"
        "the first failure decides.\n",
};
