/* df11 compress: .safetensors -> .df11, one file or a whole model folder. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "input.h"
#include "msg.h"
#include "naming.h"
#include "outfile.h"
#include "progress.h"
#include "summary.h"
#include "df11store.h"
#include "walk.h"

/* What a folder compress did, for its closing line. */
typedef struct {
    const cli_opts *o;
    unsigned long compressed, copied, invalid_named;
    uint64_t before, after; /* every regular file stored */
} compress_ctx;

/* 1 when path names the file described by st. */
static int is_file(const char *path, const struct stat *st)
{
    struct stat o;
    return stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* Compresses in to out; *sizes gets the input and output sizes. When soft
 * is not NULL, "not a safetensors file" is not reported but returned there
 * with the library's message. */
/* The encoder's options from the command line, for files and for -c. */
static void encode_options(const cli_opts *o, df11_encode_options *eo)
{
    df11_encode_options_default(eo);
    eo->threads = o->threads;
    if (o->zstd_level)
        eo->zstd_level = o->zstd_level;
    if (o->chunk_log2)
        eo->chunk_log2 = (uint32_t)o->chunk_log2;
    if (o->max)
        eo->level = DF11_LEVEL_MAX;
}

static int compress_file(const cli_opts *o, const char *in, const char *out,
                         df11_error *soft, uint64_t sizes[2])
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
    encode_options(o, &eo);
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
    struct stat os;
    if (fstat(f.fd, &os) != 0)
        os.st_size = 0;
    rc = outfile_commit(&f, &st);
    sizes[0] = (uint64_t)st.st_size;
    sizes[1] = (uint64_t)os.st_size;
    return rc;
}

/* The name a file gets in the store (for the clash check): the naming
 * rule of naming.h for anything that may be compressed. */
static char *out_name(void *ctx, const char *src, const char *name)
{
    (void)ctx;
    if (path_ends_with(name, NAMING_ST))
        return df11store_stored_name(name);
    if (strlen(name) + strlen(NAMING_KEEP) <= NAME_MAX && naming_sniff_path(src))
        return df11store_stored_name(name);
    return strdup(name);
}

static int folder_entry(void *vctx, const char *src, const char *dst_dir,
                        const char *name)
{
    compress_ctx *c = vctx;
    const cli_opts *o = c->o;
    int rc;
    /* Content decides, not the suffix: a hub blob has none. A name ending
     * in .safetensors always goes to the encoder, which says what is wrong
     * with an invalid one; other names only when they start like one. */
    int named = path_ends_with(name, NAMING_ST);
    if (named || naming_sniff_path(src)) {
        char *stored = df11store_stored_name(name);
        if (!stored)
            return msg_errno(src, "allocating", ENOMEM);
        if (strlen(stored) > NAME_MAX) {
            msg_warn("%s: safetensors content, but its name is too long to add %s "
                     "(%d bytes at most); copied unchanged", src, NAMING_KEEP, NAME_MAX);
            free(stored);
        } else {
            char *out = path_join(dst_dir, stored);
            free(stored);
            if (!out)
                return msg_errno(src, "allocating", ENOMEM);
            df11_error soft;
            soft.code = DF11_OK;
            uint64_t sz[2] = {0, 0};
            rc = compress_file(o, src, out, &soft, sz);
            if (rc == CLI_EXIT_OK) {
                c->compressed++;
                c->before += sz[0];
                c->after += sz[1];
                if (cli_verbosity >= 2)
                    summary_line(src, sz[0], sz[1], out, NULL);
            }
            free(out);
            if (rc != CLI_EXIT_FORMAT || soft.code != DF11_E_NOT_SAFETENSORS)
                return rc;
            /* Keep the folder complete: a loader gets exactly the bytes it
             * would have read before, and will complain about them itself. */
            if (named) {
                c->invalid_named++;
                msg_warn("%s; copied unchanged", soft.message);
            } else {
                msg_info("%s; starts like safetensors but is not; copied unchanged",
                         soft.message);
            }
        }
    } else if (df11store_is_stored_name(name)) {
        msg_warn("%s: copied unchanged, but 'df11 decompress' and df11fs will "
                 "treat it as a compressed file", src);
    }
    char *out = path_join(dst_dir, name);
    if (!out)
        return msg_errno(src, "allocating", ENOMEM);
    struct stat st;
    rc = copy_file(src, out, o->force);
    if (rc == CLI_EXIT_OK) {
        msg_info("%s -> %s: copied", src, out);
        c->copied++;
        if (stat(out, &st) == 0) {
            c->before += (uint64_t)st.st_size;
            c->after += (uint64_t)st.st_size;
        }
    }
    free(out);
    return rc;
}

static int one_file(void *vctx, const char *in)
{
    compress_ctx *c = vctx;
    const cli_opts *o = c->o;
    char *def = o->output ? NULL : df11store_stored_name(in);
    const char *out = o->output ? o->output : def;
    if (!out)
        return msg_errno(in, "allocating", ENOMEM);
    uint64_t sz[2] = {0, 0};
    int rc = compress_file(o, in, out, NULL, sz);
    if (rc == CLI_EXIT_OK)
        summary_line(in, sz[0], sz[1], out, NULL);
    free(def);
    return rc;
}

/* The closing lines of a folder compress. */
static void folder_summary(const compress_ctx *c, const walk_job *j, const char *src,
                           const char *dst)
{
    const walk_stats *w = &j->stats;
    if (w->links_followed)
        msg_warn("%s: %lu symlink%s outside it; %s stored under the %s "
                 "(-v lists them)", src, w->links_followed,
                 w->links_followed == 1 ? " leads" : "s lead",
                 w->links_followed == 1 ? "its target is" : "their targets are",
                 w->links_followed == 1 ? "link's name" : "links' names");
    if (!c->compressed) {
        char extra[128] = "";
        if (c->invalid_named)
            snprintf(extra, sizeof extra, "; %lu named *.safetensors %s not valid safetensors",
                     c->invalid_named, c->invalid_named == 1 ? "is" : "are");
        msg_warn("%s: nothing was compressed: none of its %lu file%s has safetensors "
                 "content (an 8-byte header length, then a JSON header)%s; %s is a plain copy",
                 src, c->copied, c->copied == 1 ? "" : "s", extra, dst);
    }
    unsigned long links = w->links_kept + w->links_rewritten + w->links_dangling;
    char tail[256];
    snprintf(tail, sizeof tail, "; %lu of %lu file%s compressed, %lu symlink%s",
             c->compressed, c->compressed + c->copied,
             c->compressed + c->copied == 1 ? "" : "s", links, links == 1 ? "" : "s");
    summary_line(src, c->before, c->after, dst, tail);
}

/* compress -c: one file to standard output, as zstd -c. The encoder writes
 * front to back, so a pipe works; a .df11 stream cannot be concatenated,
 * so one input only. */
static int to_stdout(const cli_opts *o)
{
    if (o->ninputs != 1) {
        msg_error("compress: -c takes one input file (.df11 files cannot be concatenated)");
        return CLI_EXIT_USAGE;
    }
    if (isatty(STDOUT_FILENO) && !o->force) {
        msg_error("compress: stdout is a terminal; not writing binary data there (use -f to insist)");
        return CLI_EXIT_USAGE;
    }
    int in_fd, rc;
    struct stat st;
    if ((rc = input_open(o->inputs[0], &in_fd, &st)))
        return rc;
    df11_encode_options eo;
    encode_options(o, &eo);
    df11_error err;
    df11_status s = df11_encode_fd(in_fd, o->inputs[0], STDOUT_FILENO, "stdout", &eo, &err);
    close(in_fd);
    return s == DF11_OK ? CLI_EXIT_OK : msg_lib_error(&err);
}

static int run(const cli_opts *o)
{
    if (o->to_stdout)
        return to_stdout(o);
    compress_ctx c = {.o = o};
    walk_job job = {.force = o->force, .follow_outside = 1, .file = folder_entry,
                    .out_name = out_name, .ctx = &c};
    struct stat st;
    int folder = o->output && o->ninputs == 1 && stat(o->inputs[0], &st) == 0 &&
                 S_ISDIR(st.st_mode);
    int rc = walk_inputs(o->inputs, o->ninputs, o->output, &job, one_file);
    /* A complete store gets its manifest, so an HTTP or S3 origin serving
     * it needs no listing (doc/STORE.md); written last, like a publisher
     * uploads it last. */
    if (folder && rc == CLI_EXIT_OK) {
        df11_error err;
        /* Not fatal: the store is complete and mounts from its folder; only
         * a remote origin needs the manifest, and df11 manifest says why. */
        if (df11store_write_manifest(o->output, &err) != DF11_OK)
            msg_warn("%s: no manifest written, so the store cannot be served from "
                     "HTTP or S3 until `df11 manifest %s` succeeds: %s",
                     o->output, o->output, err.message);
    }
    /* Nothing was written when the tree was refused before the walk. */
    if (folder && (c.compressed || c.copied || job.stats.links_kept ||
                   job.stats.links_rewritten || job.stats.links_dangling || rc == CLI_EXIT_OK))
        folder_summary(&c, &job, o->inputs[0], o->output);
    return rc;
}

const cli_command cmd_compress = {
    .name = "compress",
    .accepts = "ocfqvThkLZX",
    .synopsis = "compress .safetensors files or a model folder into .df11",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 compress [OPTIONS] FILE... [-o OUT.df11]\n"
        "       df11 compress [OPTIONS] MODEL_DIR -o STORE_DIR\n\n"
        "Compresses each file losslessly; files are recognised by content.\n"
        "Default output: x.safetensors -> x.df11, any other name N -> N.df11n\n"
        "(decompress and df11fs give back the original name). The source is\n"
        "kept. The output appears only once complete. Ends with one line:\n"
        "  NAME : 66.82% (58.5 MB => 39.1 MB, NAME.df11)\n\n"
        "Folder mode: every file with safetensors content under MODEL_DIR\n"
        "(a model folder or a Hugging Face cache) is compressed at the same\n"
        "place under STORE_DIR; every other file is copied. A symlink that\n"
        "resolves inside MODEL_DIR stays a symlink; one that leads outside is\n"
        "followed and its target stored under the link's name; a dangling one\n"
        "is an error. So STORE_DIR mounted by df11fs is a drop-in copy, and\n"
        "exit 0 means it is complete. A *.safetensors file that is not valid\n"
        "safetensors is copied unchanged, with a warning.\n\n"
        "Options:\n"
        "  -o, --output PATH   output file (one input) or output folder\n"
        "  -c, --stdout        write the .df11 of one file to standard output\n"
        "  -f, --force         overwrite existing outputs\n"
        "  -T, --threads N     encoder threads (default 0: all cores)\n"
        "  -q, --quiet         no warnings, progress bar or summary line\n"
        "  -v, --verbose       one line per file, and each followed symlink\n"
        "  -k, --keep          accepted for zstd habits; sources are always kept\n"
        "      --zstd-level N  zstd level for chunks that use zstd (1..22)\n"
        "      --max           smallest files: BF16 and F16 also try the ANS_IL codec\n"
        "                      (about 0.7 points smaller, decodes about half as\n"
        "                      fast), F32 ANS_IL_LZ; format 1.4 (lane states\n"
        "                      carry signs)\n"
        "      --chunk-log2 N  chunk size 2^N bytes (16..20, default 18)\n"
        "  -h, --help          this text\n\n"
        "Exit codes: 0 ok, 1 usage, 2 I/O error, input changed while it was\n"
        "being compressed, or a dangling symlink in folder mode, 3 input is not a valid .safetensors file, not a\n"
        "regular file, or a folder where two entries would get one name,\n"
        "5 output exists (use -f), 6 out of memory or internal error.\n",
};
