/*
 * The zstd-style closing lines of compress, on stderr unless -q:
 *   model.safetensors : 66.82% (58.5 MB => 39.1 MB, model.df11)
 * and one such line per folder, with what was done to its files and links.
 * Sizes are decimal (1 MB = 10^6 bytes), three significant digits.
 */
#ifndef DF11_CLI_SUMMARY_H
#define DF11_CLI_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

/* "39.1 MB" into buf. */
const char *summary_size(char *buf, size_t n, uint64_t bytes);

/* "IN : R% (A => B, OUT)" followed by tail (may be NULL). Names escaped. */
void summary_line(const char *in, uint64_t before, uint64_t after, const char *out,
                  const char *tail);

#endif
