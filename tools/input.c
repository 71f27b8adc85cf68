#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "exitcodes.h"
#include "input_url.h"
#include "msg.h"

static const char *kind(mode_t m)
{
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISDIR(m)) return "a folder";
    return "a special file";
}

int input_refuse_special(const char *path, const struct stat *st)
{
    if (S_ISREG(st->st_mode))
        return CLI_EXIT_OK;
    msg_error("%s: is %s, not a regular file; df11 reads regular files only",
              path, kind(st->st_mode));
    return CLI_EXIT_FORMAT;
}

int input_open(const char *path, int *fd, struct stat *st)
{
    int rc;
    if (stat(path, st) != 0)
        return msg_errno(path, "cannot open", errno);
    if ((rc = input_refuse_special(path, st)))
        return rc;
    /* O_NONBLOCK: should the name become a FIFO after the stat, the open
     * still returns at once and the fstat below refuses it. */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f < 0)
        return msg_errno(path, "cannot open", errno);
    if (fstat(f, st) != 0) {
        rc = msg_errno(path, "stat", errno);
        close(f);
        return rc;
    }
    if ((rc = input_refuse_special(path, st))) {
        close(f);
        return rc;
    }
    /* Regular files ignore O_NONBLOCK; clear it anyway so that no reader
     * of the descriptor ever sees EAGAIN. */
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0)
        (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    *fd = f;
    return CLI_EXIT_OK;
}

int input_open_df11(const char *path, df11_reader **r, struct stat *st)
{
    int fd, rc;
    struct stat local;
    if (df11store_is_url(path))
        return input_open_url_df11(path, r, st);
    if ((rc = input_open(path, &fd, st ? st : &local)))
        return rc;
    df11_source src;
    df11_error err;
    df11_status s = df11_source_fd(fd, path, &src, &err);
    if (s != DF11_OK) {
        close(fd);
        return msg_lib_error(&err);
    }
    /* The reader owns the source (and fd) from here on, success or not. */
    if (df11_open_source(&src, r, &err) != DF11_OK)
        return msg_lib_error(&err);
    return CLI_EXIT_OK;
}
