/*
 * Names of compressed files (doc/FS.md "Names", doc/CLI.md): X.safetensors
 * is stored as X.df11, safetensors content under any other name N as
 * N.df11n. The rule is in libdf11store (df11store.h), in one place.
 */
#ifndef DF11_CLI_NAMING_H
#define DF11_CLI_NAMING_H

#include <sys/types.h>

#include "df11store.h"

/* The rule itself is libdf11store's (df11store_stored_name,
 * df11store_original_name, df11store_is_stored_name), shared with df11fs
 * and the manifest writer; the CLI adds the suffixes it prints and the
 * content sniff that decides whether a file may be compressed at all. */
#define NAMING_ST ".safetensors"
#define NAMING_KEEP DF11STORE_EXT_KEEP

/* 1 when the regular file open on fd (size bytes) starts like safetensors:
 * an 8-byte little-endian header length n with 2 <= n <= size - 8, and '{'
 * right after it. A cheap filter before the encoder, which decides. */
int naming_sniff_fd(int fd, off_t size);
/* naming_sniff_fd on path (followed if a symlink); 0 when unreadable. */
int naming_sniff_path(const char *path);

#endif
