/* df11 manifest: (re)write the manifest of a store folder, the file a
 * remote store is read from (doc/STORE.md). */
#include <stdio.h>

#include "cli.h"
#include "df11store.h"
#include "msg.h"

static void progress(void *ctx, const char *object, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)done;
    if (cli_verbosity >= 2) {
        char b[32];
        msg_info("hashed %s (%s)", object, msg_size(b, sizeof b, (double)total));
    }
}

static int manifest_one(const char *dir)
{
    df11store_manifest_options mo = { .progress = progress };
    df11_error err;
    size_t n = 0;
    if (df11store_write_manifest_ex(dir, &mo, &n, &err) != DF11_OK)
        return msg_lib_error(&err);
    if (cli_verbosity >= 1) {
        /* Results go to stdout, like verify's "OK" lines. */
        printf("%s/%s: %zu entries\n", dir, DF11STORE_MANIFEST_NAME, n);
        fflush(stdout);
    }
    return CLI_EXIT_OK;
}

static int run(const cli_opts *o)
{
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < o->ninputs; i++)
        cli_keep_first(&rc, manifest_one(o->inputs[i]));
    return rc;
}

const cli_command cmd_manifest = {
    .name = "manifest",
    .accepts = "qvh",
    .synopsis = "write the manifest of a store folder (for HTTP and S3 origins)",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 manifest [OPTIONS] STORE_DIR...\n\n"
        "Writes STORE_DIR/" DF11STORE_MANIFEST_NAME ": every path as mounted, its\n"
        "kind, size, mode, mtime and symlink target, for .df11 files the\n"
        "original size and SHA-256, and a hash of every 4 MiB block of every\n"
        "stored file, so a store served over HTTP(S) or S3 needs no listing\n"
        "and every byte fetched is checked. Blocks of files whose size and\n"
        "mtime are unchanged since the last manifest are not read again.\n"
        "The file is written under a temporary name and renamed. Publish a\n"
        "store by uploading its files first and the manifest last.\n\n"
        "Options:\n"
        "  -q, --quiet     print nothing on success\n"
        "  -v, --verbose   name each file as it is hashed\n"
        "  -h, --help      this text\n\n"
        "Exit codes: 0 ok, 2 I/O error (unreadable folder or file, a file\n"
        "changed while hashed), 3 or 4 a .df11 file whose header is not\n"
        "valid, 6 out of "
        "memory or internal error.\n",
};
