/* df11 manifest: (re)write the manifest of a store folder, the file a
 * remote store is read from (doc/STORE.md). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "df11store.h"
#include "input_url.h"
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

/* Reads a plain file of the store to the end: the library checks every
 * block against the manifest's hashes. */
static df11_status read_file(df11store *s, const df11store_entry *e, df11_error *err)
{
    df11_source src;
    df11_status st = df11store_source(s, e, &src, err);
    if (st)
        return st;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    uint64_t off = 0;
    while (!st && buf && off < e->size) {
        size_t got = 0;
        st = src.read_at(src.ctx, buf, cap, off, &got, err);
        if (!st && !got)
            break;
        off += got;
    }
    if (!buf)
        st = DF11_E_NOMEM;
    else if (!st && off != e->size) {
        st = DF11_E_TRUNCATED;
        if (err) {
            err->code = st;
            snprintf(err->message, sizeof err->message, "%s: ends at %llu of %llu bytes", src.name,
                     (unsigned long long)off, (unsigned long long)e->size);
        }
    }
    free(buf);
    if (src.close)
        src.close(src.ctx);
    return st;
}

/* A published store, checked end to end as a node would read it: the
 * manifest, every .df11 decoded and checked, every plain file read. With
 * DF11_CACHE_DIR it also fills that node cache. */
static int check_url(const cli_opts *o, const char *url)
{
    df11store_options so;
    input_url_options(&so);
    df11store *s;
    df11_error err;
    if (df11store_open(url, &so, &s, &err) != DF11_OK)
        return msg_lib_error(&err);
    df11store_snapshot *snap = df11store_snapshot_get(s);
    int rc = CLI_EXIT_OK;
    size_t n = df11store_snapshot_count(snap), files = 0;
    for (size_t i = 0; i < n; i++) {
        const df11store_entry *e = df11store_snapshot_at(snap, i);
        df11_status st = DF11_OK;
        if (e->kind == DF11STORE_DF11) {
            df11_source src;
            df11_reader *r;
            st = df11store_source(s, e, &src, &err);
            if (!st && !(st = df11_open_source(&src, &r, &err))) {
                st = df11_verify(r, o->threads, NULL, NULL, &err);
                df11_close(r);
            }
        } else if (e->kind == DF11STORE_FILE) {
            st = read_file(s, e, &err);
        } else {
            continue;
        }
        files++;
        if (st)
            cli_keep_first(&rc, msg_lib_error(&err));
        else if (cli_verbosity >= 2)
            printf("%s: OK\n", e->path);
    }
    if (!rc && cli_verbosity >= 1)
        printf("%s: %zu files OK\n", url, files);
    fflush(stdout);
    if (cli_verbosity >= 2) {
        char *stats = df11store_stats(s);
        if (stats)
            fputs(stats, stderr);
        free(stats);
    }
    df11store_snapshot_put(snap);
    df11store_close(s);
    return rc;
}

static int run(const cli_opts *o)
{
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < o->ninputs; i++)
        cli_keep_first(&rc, df11store_is_url(o->inputs[i]) ? check_url(o, o->inputs[i])
                                                            : manifest_one(o->inputs[i]));
    return rc;
}

const cli_command cmd_manifest = {
    .name = "manifest",
    .accepts = "qvTh",
    .synopsis = "write a store folder's manifest, or check a published store",
    .min_inputs = 1,
    .run = run,
    .help =
        "Usage: df11 manifest [OPTIONS] STORE_DIR...\n"
        "       df11 manifest [OPTIONS] URL...\n\n"
        "Writes STORE_DIR/" DF11STORE_MANIFEST_NAME ": every path as mounted, its\n"
        "kind, size, mode, mtime and symlink target, for .df11 files the\n"
        "original size and SHA-256, and a hash of every 4 MiB block of every\n"
        "stored file, so a store served over HTTP(S) or S3 needs no listing\n"
        "and every byte fetched is checked. Blocks of files whose size and\n"
        "mtime are unchanged since the last manifest are not read again.\n"
        "The file is written under a temporary name and renamed. Publish a\n"
        "store by uploading its files first and the manifest last.\n\n"
        "With a URL (http://HOST/PREFIX/, https://..., s3://BUCKET/PREFIX)\n"
        "it checks a published store as a node reads it: the manifest, then\n"
        "every .df11 file decoded and checked, every other file read and\n"
        "checked against its block hashes. DF11_CACHE_DIR=DIR also fills that\n"
        "node cache; -v prints the store's counters. Other settings:\n"
        "DF11_TIMEOUT, DF11_CONNECTIONS, DF11_CACHE_SIZE, CURL_CA_BUNDLE,\n"
        "DF11_INSECURE=1, http_proxy, AWS_* (doc/STORE.md).\n\n"
        "Options:\n"
        "  -q, --quiet     print nothing on success\n"
        "  -v, --verbose   name each file as it is hashed or checked\n"
        "  -T, --threads N decoding threads for a check (default: all cores)\n"
        "  -h, --help      this text\n\n"
        "Exit codes: 0 ok, 2 I/O error (unreadable folder or file, a file\n"
        "changed while hashed), 3 or 4 a .df11 file whose header is not\n"
        "valid, 6 out of "
        "memory or internal error.\n",
};
