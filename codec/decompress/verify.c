/* Full verification: a whole-file decode (decode_all.c) whose bytes go
 * nowhere; it still checks every chunk and the whole-file SHA-256. */
#include "reader.h"

df11_status df11_verify(df11_reader *r, int threads,
                        void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                        df11_error *err)
{
    return df11_decode_all(r, threads, NULL, NULL, progress, ctx, err);
}
