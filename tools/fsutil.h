/*
 * File helpers shared by the commands. Outputs are written to a temporary
 * file beside the destination and renamed into place only when complete, so
 * an interrupted run never leaves a truncated output under the final name,
 * and without -f the rename itself refuses to replace an existing file.
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

/* CLI_EXIT_EXISTS (after a message) when dst exists and !force. */
int out_check(const char *dst, int force);
/* Creates the temporary file for dst; returns its fd (path in *tmp) or -1
 * after printing why (*rc gets the exit code). */
int out_tmp_open(const char *dst, char **tmp, int *rc);
/* Renames tmp to dst (refusing to replace dst unless force); frees tmp,
 * and removes it on failure. Returns an exit code. */
int out_commit(char *tmp, const char *dst, int force);
void out_abort(char *tmp);

/* Gives dst the permission bits and times of st (the source). Best effort. */
void meta_copy_fd(int fd, const struct stat *st);
void meta_copy_path(const char *path, const struct stat *st);

/* 0 or an errno value. */
int write_all(int fd, const void *buf, size_t len);
/* Copies a regular file; returns an exit code. */
int copy_file(const char *src, const char *dst, const struct stat *st, int force);
/* 1 when both paths name the same existing file. */
int same_file(const char *a, const char *b);

#endif
