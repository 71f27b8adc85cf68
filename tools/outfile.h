/*
 * The one file policy for every file df11 writes (compress, decompress,
 * folder copies):
 *  - without -f an existing output is refused (exit 5) before any work, and
 *    the final rename refuses to replace one that appeared meanwhile; an
 *    output that is a folder, FIFO, socket or device is refused even with
 *    -f, since the rename would replace the node itself (/dev/null!);
 *  - the bytes go to one hidden temporary file in the output's folder,
 *    named ".df11.XXXXXX" whatever the output's name (so any name the file
 *    system takes, up to 255 bytes, works), mode 0600 while it is written;
 *  - on success it gets the source's permission bits and times, is flushed
 *    to disk, and is renamed into place: one temporary file, one rename;
 *  - on failure, and on SIGINT, SIGTERM or SIGHUP, it is removed, so no
 *    partial file is ever seen under the final name or left behind;
 *  - every message names the output, never the temporary file.
 * One outfile is open at a time (df11 writes its outputs one after another).
 */
#ifndef DF11_CLI_OUTFILE_H
#define DF11_CLI_OUTFILE_H

#include <sys/stat.h>

typedef struct {
    const char *dst; /* the final name (not owned) */
    char *tmp;       /* the temporary file's path */
    int fd;          /* open for writing; -1 once closed */
    int force;
} outfile;

/* The overwrite rule alone: CLI_EXIT_EXISTS (after a message) when dst
 * exists and !force, or when dst is a folder, FIFO, socket or device
 * (which a rename would replace, -f or not). */
int outfile_check(const char *dst, int force);

/* outfile_check, then creates the temporary file. Returns an exit code;
 * on CLI_EXIT_OK, f->fd is ready for writing. */
int outfile_open(outfile *f, const char *dst, int force);

/* Gives the file the mode and times of src (the source), flushes, closes
 * and renames it to f->dst. Returns an exit code; the temporary file is
 * gone whatever happens. */
int outfile_commit(outfile *f, const struct stat *src);

/* Closes and removes the temporary file. Safe to call twice. */
void outfile_abort(outfile *f);

#endif
