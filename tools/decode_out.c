/*
 * Decoding a whole .df11 file into a stream: libdf11's df11_decode_all does
 * the work (chunks decoded in parallel, every chunk checked, the SHA-256 of
 * the whole file, unless skipped, overlapped with the writes, pieces small enough to be
 * still in the CPU caches when they are copied into the kernel); this file
 * only writes the pieces and turns failures into the CLI's messages and
 * exit codes.
 */
#include "decode_out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "fsutil.h"
#include "msg.h"

typedef struct {
    int fd;
    int err;            /* errno of a failed write, reported by the caller */
    progress *p;
} out_ctx;

static df11_status write_piece(void *ctx, const void *buf, size_t len, df11_error *err)
{
    out_ctx *o = ctx;
    int e = write_all(o->fd, buf, len);
    if (e == 0)
        return DF11_OK;
    o->err = e;
    if (err) {
        err->code = DF11_E_IO;
        snprintf(err->message, sizeof err->message, "write failed: %s", strerror(e));
    }
    return DF11_E_IO;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress_update(((out_ctx *)ctx)->p, done, total);
}

int decode_to_fd(df11_reader *r, int fd, const char *out_name, int threads, unsigned flags,
                 progress *p)
{
    out_ctx o = { fd, 0, p };
    df11_error err;
    df11_status s = df11_decode_all_flags(r, threads, flags, write_piece, &o, on_progress, &o, &err);
    if (s == DF11_OK)
        return CLI_EXIT_OK;
    if (o.err)          /* the output failed, not the input: name the output */
        return msg_errno(out_name, "writing", o.err);
    return msg_lib_error(&err);
}
