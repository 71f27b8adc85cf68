/* df11 decompress: .df11 -> original bytes, one file, stdout, or a folder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "decode_out.h"
#include "df11store.h"
#include "fsutil.h"
#include "msg.h"
#include "naming.h"
#include "store_guard.h"
#include "outfile.h"
#include "input.h"
#include "progress.h"
#include "walk.h"

static unsigned sha_flags(const cli_opts *o)
{
    return o->no_sha256 ? DF11_DECODE_NO_SHA256 : 0;
}

/* out NULL: write to stdout. */
static int decompress_file(const cli_opts *o, const char *in, const char *out)
{
    int rc;
    if (out) {
        if (same_file(in, out)) {
            msg_error("%s: input and output are the same file", in);
            return CLI_EXIT_USAGE;
        }
        /* Refuse an existing output before decoding anything. */
        if ((rc = outfile_check(out, o->force)))
            return rc;
    }
    df11_reader *r;
    struct stat st;
    if ((rc = input_open_df11(in, &r, &st)))
        return rc;
    progress p;
    progress_begin(&p, in);
    if (!out) {
        rc = decode_to_fd(r, STDOUT_FILENO, "stdout", o->threads, sha_flags(o), &p);
        progress_end(&p);
        df11_close(r);
        return rc;
    }
    outfile f;
    if ((rc = outfile_open(&f, out, o->force)) == CLI_EXIT_OK) {
        rc = decode_to_fd(r, f.fd, out, o->threads, sha_flags(o), &p);
        if (rc == CLI_EXIT_OK)
            rc = outfile_commit(&f, &st);
        else
            outfile_abort(&f);
    }
    progress_end(&p);
    df11_close(r);
    if (rc == CLI_EXIT_OK)
        msg_info("%s -> %s", in, out);
    return rc;
}

static int folder_entry(void *ctx, const char *src, const char *dst_dir,
                        const char *name)
{
    const cli_opts *o = ctx;
    int rc;
    /* The store's manifest is its own bookkeeping, not part of the
     * original tree (a mount does not show it either). */
    if (!strcmp(name, DF11STORE_MANIFEST_NAME)) {
        char *top = path_join(o->inputs[0], name);
        int is_top = top && !strcmp(top, src);
        free(top);
        if (is_top)
            return CLI_EXIT_OK;
    }
    char *orig = df11store_original_name(name);
    char *out = path_join(dst_dir, orig ? orig : name);
    if (!out)
        rc = msg_errno(src, "allocating", ENOMEM);
    else if (orig)
        rc = decompress_file(o, src, out);
    else if ((rc = copy_file(src, out, o->force)) == CLI_EXIT_OK)
        msg_info("%s -> %s: copied", src, out);
    free(orig);
    free(out);
    return rc;
}

static char *out_name(void *ctx, const char *src, const char *name)
{
    (void)ctx;
    (void)src;
    char *orig = df11store_original_name(name);
    return orig ? orig : strdup(name);
}

static int one_file(void *ctx, const char *in)
{
    const cli_opts *o = ctx;
    if (o->to_stdout)
        return decompress_file(o, in, NULL);
    char *def = o->output ? NULL : df11store_original_name(in);
    if (!o->output && !def) {
        msg_error("%s: unknown suffix (expected .df11 or .df11n); name the output with -o", in);
        return CLI_EXIT_USAGE;
    }
    /* An existing output is refused anyway (exit 5, outfile.h); the guard
     * is about a new file appearing beside the input. */
    struct stat st;
    int rc = def && !o->force && lstat(def, &st) != 0 ? store_guard_beside(in, def)
                                                      : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK)
        rc = decompress_file(o, in, o->output ? o->output : def);
    free(def);
    return rc;
}

static int run(const cli_opts *o)
{
    if (o->to_stdout && isatty(STDOUT_FILENO) && !o->force) {
        msg_error("decompress: stdout is a terminal; not writing binary data "
                  "there (use -f to insist)");
        return CLI_EXIT_USAGE;
    }
    /* No folder mode with -c: a folder cannot go to one stream. */
    /* A store's links are kept as they are: they point at original names,
     * which exist again in the output. */
    walk_job job = {.force = o->force, .follow_outside = 0, .file = folder_entry,
                    .out_name = out_name, .ctx = (void *)o};
    return walk_inputs(o->inputs, o->ninputs, o->to_stdout ? NULL : o->output, &job,
                       one_file);
}

const cli_command cmd_decompress = {
    .name = "decompress",
    .accepts = "ocfqvThkS",
    .synopsis = "restore the original files from .df11 files or a store folder",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 decompress [OPTIONS] IN.df11... [-o OUT | -c]\n"
        "       df11 decompress [OPTIONS] STORE_DIR -o OUT_DIR\n\n"
        "Restores the original bytes. Default output: x.df11 -> x.safetensors,\n"
        "N.df11n -> N. Beside other .df11 files (a store), or inside the STORE\n"
        "of a mounted df11fs, the default output is refused: it would hide the\n"
        ".df11 from the mount; give -o, -c or -f. Every chunk checksum and (unless\n"
        "--no-sha256) the whole-file SHA-256 are checked; on a mismatch no output\n"
        "file is left behind\n"
        "(with -c, what was already written stays written). The source is kept.\n\n"
        "Folder mode: every *.df11 / *.df11n file under STORE_DIR is restored\n"
        "under its original name in OUT_DIR; other files are copied and\n"
        "symlinks recreated as they are.\n\n"
        "Options:\n"
        "  -o, --output PATH   output file (one input) or output folder\n"
        "  -c, --stdout        write to standard output\n"
        "  -f, --force         overwrite existing outputs; with -c, write even\n"
        "                      to a terminal\n"
        "  -T, --threads N     decoding threads (default 0: all cores); while the\n"
        "                      SHA-256 runs, at most one fewer than the cores\n"
        "      --no-sha256     check every chunk's XXH3-64 but not the whole\n"
        "                      file's SHA-256, which runs on one core (~1.8 GB/s)\n"
        "                      and caps decompression on two or more\n"
        "  -q, --quiet         no warnings and no progress bar\n"
        "  -v, --verbose       one line per file\n"
        "  -k, --keep          accepted for zstd habits; sources are always kept\n"
        "  -h, --help          this text\n\n"
        "Exit codes: 0 ok, 1 usage (also: refused beside a store), 2 I/O, 3 not a .df11 file, unsupported\n"
        "version, not a regular file, or a folder where x.df11 sits beside\n"
        "x.safetensors, 4 corrupt .df11 data, 5 output exists (use -f; a FIFO\n"
        "or device output is never replaced), 6 out of memory or internal error.\n",
};
