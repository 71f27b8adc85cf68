/*
 * Names of compressed files (doc/FS.md "Names", doc/CLI.md): the one rule
 * shared by compress, decompress and df11fs (fs/names.c), told apart by the
 * suffix alone, so no file has to be opened to know an original name:
 *  - X.safetensors is stored as X.df11 (the original rule, unchanged);
 *  - a file N with safetensors content and any other name (a Hugging Face
 *    blob, w.bin) is stored as N.df11n ("n": the name is kept whole).
 * Neither suffix is a suffix of the other, so each stored name maps back to
 * exactly one original name, and stores made before .df11n existed keep
 * their meaning.
 */
#ifndef DF11_CLI_NAMING_H
#define DF11_CLI_NAMING_H

#include <sys/types.h>

#define NAMING_ST ".safetensors"
#define NAMING_DF11 ".df11"
#define NAMING_KEEP ".df11n"

/* The stored name of a compressed file with original path or name p (the
 * rule is applied to the last component). NULL when out of memory. */
char *naming_stored(const char *p);

/* The original path or name of a stored one: X.df11 -> X.safetensors,
 * N.df11n -> N. NULL when p is neither (or out of memory). */
char *naming_original(const char *p);

/* 1 when the last component of p is a stored name (*.df11 or *.df11n with
 * a non-empty stem). */
int naming_is_packed(const char *p);

/* 1 when the regular file open on fd (size bytes) starts like safetensors:
 * an 8-byte little-endian header length n with 2 <= n <= size - 8, and '{'
 * right after it. A cheap filter before the encoder, which decides. */
int naming_sniff_fd(int fd, off_t size);
/* naming_sniff_fd on path (followed if a symlink); 0 when unreadable. */
int naming_sniff_path(const char *path);

#endif
