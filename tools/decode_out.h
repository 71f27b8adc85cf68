#ifndef DF11_CLI_DECODE_OUT_H
#define DF11_CLI_DECODE_OUT_H

#include "df11.h"
#include "progress.h"

/* Decodes the whole original of r into fd, in order, with `threads`
 * decoding workers, checking every chunk and, unless flags has
 * DF11_DECODE_NO_SHA256, the whole-file SHA-256. out_name names fd in
 * messages. Returns an exit code after printing why. */
int decode_to_fd(df11_reader *r, int fd, const char *out_name, int threads,
                 unsigned flags, progress *p);

#endif
