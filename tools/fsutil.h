/*
 * Path and copy helpers shared by the commands. How outputs are written
 * (temporary file, rename, -f) is outfile.h's job alone.
 */
#ifndef DF11_CLI_FSUTIL_H
#define DF11_CLI_FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>

int path_ends_with(const char *s, const char *suffix);
/* p with suffix old replaced by neu; when p lacks old, p+neu if append,
 * else NULL. Caller frees. */
char *path_swap_suffix(const char *p, const char *old, const char *neu, int append);
char *path_join(const char *dir, const char *name);

/* 0 or an errno value. */
int write_all(int fd, const void *buf, size_t len);
/* Copies a regular file (mode and times too) under the outfile policy;
 * returns an exit code. */
int copy_file(const char *src, const char *dst, int force);
/* 1 when both paths name the same existing file. */
int same_file(const char *a, const char *b);

#endif
