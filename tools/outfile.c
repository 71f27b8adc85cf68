#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "msg.h"

/* --- removal on a signal -------------------------------------------------
 * The handler may run at any moment on any thread, so it touches nothing
 * but this one lock-free pointer and calls only unlink() and raise(), both
 * async-signal-safe. The pointer is cleared only after the rename, so a
 * signal between rename and clear unlinks a name that no longer exists,
 * which is harmless; a signal before the rename removes the file. */
static _Atomic(char *) live_tmp;
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
    char *t = atomic_load(&live_tmp);
    if (t)
        unlink(t);
    /* SA_RESETHAND restored the default action; the signal is blocked until
     * this returns, then ends the process with the status a shell expects
     * (130 for Ctrl-C). */
    raise(sig);
}

static void install_handlers(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
        struct sigaction old, sa;
        /* A signal ignored by whoever started us (nohup) stays ignored. */
        if (sigaction(cleanup_signals[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(cleanup_signals[i], &sa, NULL);
    }
}

/* --- the policy ------------------------------------------------------------ */

int outfile_check(const char *dst, int force)
{
    struct stat st;
    if (lstat(dst, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            msg_error("%s: output exists and is a folder", dst);
            return CLI_EXIT_EXISTS;
        }
        /* The rename would replace the node itself: "-f -o /dev/null"
         * would turn /dev/null into a regular file. */
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            msg_error("%s: output exists and is not a regular file; not replacing it, "
                      "even with -f (decompress -c writes to stdout)", dst);
            return CLI_EXIT_EXISTS;
        }
        if (!force) {
            msg_error("%s: already exists; use -f to overwrite", dst);
            return CLI_EXIT_EXISTS;
        }
    }
    return CLI_EXIT_OK;
}

int outfile_open(outfile *f, const char *dst, int force)
{
    memset(f, 0, sizeof *f);
    f->dst = dst;
    f->fd = -1;
    f->force = force;
    int rc = outfile_check(dst, force);
    if (rc)
        return rc;
    /* Same folder, so the rename stays within one file system; a short
     * fixed name, so an output name of up to 255 bytes still works; hidden,
     * so df11fs and loaders listing the folder skip it. */
    const char *slash = strrchr(dst, '/');
    size_t dl = slash ? (size_t)(slash - dst + 1) : 0;
    char *t = malloc(dl + sizeof ".df11.XXXXXX");
    if (!t)
        return msg_errno(dst, "allocating", ENOMEM);
    memcpy(t, dst, dl);
    strcpy(t + dl, ".df11.XXXXXX");
    install_handlers();
    int fd = mkostemp(t, O_CLOEXEC);
    if (fd < 0) {
        rc = msg_errno(dst, "cannot create (in its folder)", errno);
        free(t);
        return rc;
    }
    f->tmp = t;
    f->fd = fd;
    atomic_store(&live_tmp, t);
    return CLI_EXIT_OK;
}

static void forget(outfile *f)
{
    atomic_store(&live_tmp, NULL);
    free(f->tmp);
    f->tmp = NULL;
}

void outfile_abort(outfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp) {
        unlink(f->tmp);
        forget(f);
    }
}

/* rename(2) that refuses to replace dst unless force. 0 or an errno. */
static int put_in_place(const char *tmp, const char *dst, int force)
{
    if (force)
        return rename(tmp, dst) == 0 ? 0 : errno;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
        return 0;
    int e = errno;
    if (e != EINVAL && e != ENOSYS)
        return e;
    /* File systems without RENAME_NOREPLACE: link() refuses to replace as
     * well. */
    if (link(tmp, dst) != 0)
        return errno;
    unlink(tmp);
    return 0;
}

int outfile_commit(outfile *f, const struct stat *src)
{
    int rc = CLI_EXIT_OK;
    if (src) {
        struct timespec ts[2] = {src->st_atim, src->st_mtim};
        (void)fchmod(f->fd, src->st_mode & 07777); /* best effort, as cp -p */
        (void)futimens(f->fd, ts);
    }
    /* A full disk may show only now (delayed allocation, NFS); and the
     * bytes must be on disk before the name points at them. */
    if (fdatasync(f->fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = msg_errno(f->dst, "writing", errno);
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 && rc == CLI_EXIT_OK)
        rc = msg_errno(f->dst, "writing", errno);
    if (rc != CLI_EXIT_OK) {
        outfile_abort(f);
        return rc;
    }
    int e = put_in_place(f->tmp, f->dst, f->force);
    if (e) {
        outfile_abort(f);
        if (e == EEXIST && !f->force) {
            msg_error("%s: already exists; use -f to overwrite", f->dst);
            return CLI_EXIT_EXISTS;
        }
        return msg_errno(f->dst, "renaming into place", e);
    }
    forget(f);
    return CLI_EXIT_OK;
}
