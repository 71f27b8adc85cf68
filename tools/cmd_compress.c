/* df11 compress: .safetensors -> .df11, one file or a whole model folder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "input.h"
#include "msg.h"
#include "outfile.h"
#include "progress.h"
#include "walk.h"

static void report(const char *in, const char *out, const struct stat *st)
{
    struct stat os;
    char a[32], b[32];
    if (cli_verbosity < 2 || stat(out, &os) != 0)
        return;
    msg_info("%s -> %s: %s -> %s (%.2f%%)", in, out,
             msg_size(a, sizeof a, (double)st->st_size),
             msg_size(b, sizeof b, (double)os.st_size),
             st->st_size ? 100.0 * (double)os.st_size / (double)st->st_size : 100.0);
}

/* 1 when path names the file described by st. */
static int is_file(const char *path, const struct stat *st)
{
    struct stat o;
    return stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* Compresses in to out. When soft is not NULL, "not a safetensors file" is
 * not reported but returned there with the library's message. */
static int compress_file(const cli_opts *o, const char *in, const char *out,
                         df11_error *soft)
{
    int in_fd, rc;
    struct stat st;
    if ((rc = input_open(in, &in_fd, &st)))
        return rc;
    outfile f;
    if (is_file(out, &st)) {
        msg_error("%s: input and output are the same file", in);
        rc = CLI_EXIT_USAGE;
    } else {
        rc = outfile_open(&f, out, o->force);
    }
    if (rc) {
        close(in_fd);
        return rc;
    }
    progress p;
    progress_begin(&p, in);
    df11_encode_options eo;
    df11_encode_options_default(&eo);
    eo.threads = o->threads;
    if (o->zstd_level)
        eo.zstd_level = o->zstd_level;
    if (o->chunk_log2)
        eo.chunk_log2 = (uint32_t)o->chunk_log2;
    eo.progress = progress_update;
    eo.progress_ctx = &p;
    df11_error err;
    /* The library writes to our descriptor and names the output in its
     * messages; the temporary file is ours alone. */
    df11_status s = df11_encode_fd(in_fd, in, f.fd, out, &eo, &err);
    progress_end(&p);
    close(in_fd);
    if (s != DF11_OK) {
        outfile_abort(&f);
        if (soft && s == DF11_E_NOT_SAFETENSORS) {
            *soft = err;
            return CLI_EXIT_FORMAT;
        }
        rc = msg_lib_error(&err);
        if (s == DF11_E_CHANGED)
            msg_error("%s: not written; compress again once the input stays unchanged", out);
        return rc;
    }
    rc = outfile_commit(&f, &st);
    if (rc == CLI_EXIT_OK)
        report(in, out, &st);
    return rc;
}

static int folder_entry(void *ctx, const char *src, const char *dst_dir,
                        const char *name)
{
    const cli_opts *o = ctx;
    int rc;
    if (path_ends_with(name, ".safetensors")) {
        char *stem = path_swap_suffix(name, ".safetensors", ".df11", 0);
        char *out = stem ? path_join(dst_dir, stem) : NULL;
        free(stem);
        if (!out)
            return msg_errno(src, "allocating", ENOMEM);
        df11_error soft;
        soft.code = DF11_OK;
        rc = compress_file(o, src, out, &soft);
        free(out);
        if (rc != CLI_EXIT_FORMAT || soft.code != DF11_E_NOT_SAFETENSORS)
            return rc;
        /* Keep the folder complete: a loader gets exactly the bytes it
         * would have read before, and will complain about them itself. */
        msg_warn("%s; copied unchanged", soft.message);
    } else if (path_ends_with(name, ".df11")) {
        msg_warn("%s: copied unchanged, but 'df11 decompress' and df11fs will "
                 "treat it as a compressed file", src);
    }
    char *out = path_join(dst_dir, name);
    if (!out)
        return msg_errno(src, "allocating", ENOMEM);
    rc = copy_file(src, out, o->force);
    if (rc == CLI_EXIT_OK)
        msg_info("%s -> %s: copied", src, out);
    free(out);
    return rc;
}

static int one_file(void *ctx, const char *in)
{
    const cli_opts *o = ctx;
    char *def = o->output ? NULL : path_swap_suffix(in, ".safetensors", ".df11", 1);
    const char *out = o->output ? o->output : def;
    if (!out)
        return msg_errno(in, "allocating", ENOMEM);
    int rc = compress_file(o, in, out, NULL);
    free(def);
    return rc;
}

static int run(const cli_opts *o)
{
    if (o->to_stdout) {
        msg_error("compress: cannot write to stdout (-c): the .df11 index is "
                  "written after the data");
        return CLI_EXIT_USAGE;
    }
    static const walk_rename rn = {".safetensors", ".df11"};
    return walk_inputs(o->inputs, o->ninputs, o->output, o->force, &rn, folder_entry,
                       one_file, (void *)o);
}

const cli_command cmd_compress = {
    .name = "compress",
    .accepts = "ofqvThkLZ",
    .synopsis = "compress .safetensors files or a model folder into .df11",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 compress [OPTIONS] IN.safetensors... [-o OUT.df11]\n"
        "       df11 compress [OPTIONS] MODEL_DIR -o STORE_DIR\n\n"
        "Compresses each file losslessly. The default output replaces the\n"
        ".safetensors suffix with .df11 (or appends .df11). The source is\n"
        "kept. The output appears only once complete.\n\n"
        "Folder mode: every *.safetensors file under MODEL_DIR (recursively)\n"
        "becomes a .df11 file at the same place under STORE_DIR; every other\n"
        "file (config.json, tokenizer files, *.index.json, ...) is copied;\n"
        "symlinks are recreated with the same target; so STORE_DIR mounted by\n"
        "df11fs is a drop-in model folder. A *.safetensors file that is not\n"
        "valid safetensors is copied unchanged, with a warning.\n\n"
        "Options:\n"
        "  -o, --output PATH   output file (one input) or output folder\n"
        "  -f, --force         overwrite existing outputs\n"
        "  -T, --threads N     encoder threads (default 0: all cores)\n"
        "  -q, --quiet         no warnings and no progress bar\n"
        "  -v, --verbose       one line per file with its sizes\n"
        "  -k, --keep          accepted for zstd habits; sources are always kept\n"
        "      --zstd-level N  zstd level for chunks that use zstd (1..22)\n"
        "      --chunk-log2 N  chunk size 2^N bytes (16..20, default 18)\n"
        "  -h, --help          this text\n\n"
        "Exit codes: 0 ok, 1 usage, 2 I/O error or input changed while it was\n"
        "being compressed, 3 input is not a valid .safetensors file, not a\n"
        "regular file, or a folder where x.safetensors sits beside x.df11,\n"
        "5 output exists (use -f), 6 out of memory or internal error.\n",
};
