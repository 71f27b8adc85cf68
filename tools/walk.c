#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fsutil.h"
#include "input.h"
#include "outfile.h"
#include "msg.h"

typedef struct {
    int force;
    walk_file_fn fn;
    void *ctx;
    dev_t dst_dev; /* the destination root, so a destination inside the */
    ino_t dst_ino; /* source tree is not walked into */
} walker;

static int make_dir(const char *path, mode_t mode)
{
    struct stat st;
    if (mkdir(path, mode | 0700) == 0)
        return CLI_EXIT_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return CLI_EXIT_OK; /* merging into an existing folder is fine */
    if (errno == EEXIST) {
        msg_error("%s: exists and is not a folder", path);
        return CLI_EXIT_EXISTS;
    }
    return msg_errno(path, "creating folder", errno);
}

static int copy_link(const char *src, const char *dst, const struct stat *st,
                     int force)
{
    char *target = malloc((size_t)st->st_size + 2);
    if (!target)
        return msg_errno(src, "reading link", ENOMEM);
    ssize_t n = readlink(src, target, (size_t)st->st_size + 1);
    if (n < 0 || n > st->st_size) {
        int rc = msg_errno(src, "reading link", n < 0 ? errno : ENAMETOOLONG);
        free(target);
        return rc;
    }
    target[n] = 0;
    int rc = outfile_check(dst, force);
    if (rc == CLI_EXIT_OK) {
        if (force)
            unlink(dst); /* symlink() cannot replace; ENOENT is fine */
        if (symlink(target, dst) != 0) {
            if (errno == EEXIST) {
                msg_error("%s: already exists; use -f to overwrite", dst);
                rc = CLI_EXIT_EXISTS;
            } else {
                rc = msg_errno(dst, "creating symlink", errno);
            }
        }
    }
    free(target);
    return rc;
}

static int walk_dir(walker *w, const char *src, const char *dst)
{
    struct dirent **ents;
    /* Sorted, so runs and messages are reproducible. */
    int n = scandir(src, &ents, NULL, alphasort);
    if (n < 0)
        return msg_errno(src, "reading folder", errno);
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *s = path_join(src, name), *d = path_join(dst, name);
        struct stat st;
        if (!s || !d) {
            cli_keep_first(&rc, msg_errno(src, "allocating", ENOMEM));
        } else if (lstat(s, &st) != 0) {
            cli_keep_first(&rc, msg_errno(s, "stat", errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (st.st_dev == w->dst_dev && st.st_ino == w->dst_ino) {
                msg_warn("%s: skipped: it is the output folder", s);
            } else {
                int r = make_dir(d, st.st_mode & 07777);
                if (r == CLI_EXIT_OK)
                    r = walk_dir(w, s, d);
                cli_keep_first(&rc, r);
            }
        } else if (S_ISLNK(st.st_mode)) {
            cli_keep_first(&rc, copy_link(s, d, &st, w->force));
        } else if (S_ISREG(st.st_mode)) {
            cli_keep_first(&rc, w->fn(w->ctx, s, dst, name));
        } else {
            msg_warn("%s: skipped: not a regular file, folder or symlink", s);
        }
        free(s);
        free(d);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

int walk_tree(const char *src_root, const char *dst_root, int force,
              const walk_rename *rn, walk_file_fn fn, void *ctx)
{
    struct stat sst, dst;
    if (stat(src_root, &sst) != 0)
        return msg_errno(src_root, "stat", errno);
    /* Name clashes first, so a refused tree leaves no half-built store. */
    int have_dst = stat(dst_root, &dst) == 0;
    if (have_dst && dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino) {
        msg_error("%s: output folder is the input folder", dst_root);
        return CLI_EXIT_USAGE;
    }
    int rc = walk_check_names(src_root, have_dst ? &dst : NULL, rn);
    if (rc)
        return rc;
    rc = make_dir(dst_root, sst.st_mode & 07777);
    if (rc)
        return rc;
    if (stat(dst_root, &dst) != 0)
        return msg_errno(dst_root, "stat", errno);
    if (dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino) {
        msg_error("%s: output folder is the input folder", dst_root);
        return CLI_EXIT_USAGE;
    }
    walker w = {force, fn, ctx, dst.st_dev, dst.st_ino};
    return walk_dir(&w, src_root, dst_root);
}

int walk_inputs(char *const *inputs, int n, const char *out_dir, int force,
                const walk_rename *rn, walk_file_fn entry, walk_input_fn file,
                void *ctx)
{
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        const char *in = inputs[i];
        struct stat st;
        if (stat(in, &st) != 0) {
            cli_keep_first(&rc, msg_errno(in, "stat", errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (out_dir) {
                cli_keep_first(&rc, walk_tree(in, out_dir, force, rn, entry, ctx));
            } else {
                msg_error("%s: is a folder; name the output folder with -o", in);
                cli_keep_first(&rc, CLI_EXIT_USAGE);
            }
        } else if (!S_ISREG(st.st_mode)) {
            cli_keep_first(&rc, input_refuse_special(in, &st));
        } else {
            cli_keep_first(&rc, file(ctx, in));
        }
    }
    return rc;
}
