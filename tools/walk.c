#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "df11store.h"
#include "exitcodes.h"
#include "fsutil.h"
#include "input.h"
#include "outfile.h"
#include "msg.h"

#define MAX_DEPTH 256

typedef struct {
    walk_job *job;
    const char *root_real; /* the source root's real path, for links */
    dev_t dst_dev; /* the destination root, so a destination inside the */
    ino_t dst_ino; /* source tree is not walked into */
    int n;         /* folders being walked, outermost first: a followed */
    dev_t dev[MAX_DEPTH]; /* link back into one of them is a loop */
    ino_t ino[MAX_DEPTH];
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

static int make_link(const char *target, const char *dst, int force)
{
    int rc = outfile_check(dst, force);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (force)
        unlink(dst); /* symlink() cannot replace; ENOENT is fine */
    if (symlink(target, dst) == 0)
        return CLI_EXIT_OK;
    if (errno == EEXIST) {
        msg_error("%s: already exists; use -f to overwrite", dst);
        return CLI_EXIT_EXISTS;
    }
    return msg_errno(dst, "creating symlink", errno);
}

static int walk_dir(walker *w, const char *src, const char *dst, int depth, int followed);

/* A folder entered (a real one, or the target of a followed link). */
static int enter_dir(walker *w, const char *src, const char *dst, const struct stat *st,
                     int depth, int followed)
{
    for (int i = 0; i < w->n; i++)
        if (w->dev[i] == st->st_dev && w->ino[i] == st->st_ino) {
            msg_error("%s: leads back into a folder it is in (a symlink loop); not followed", src);
            return CLI_EXIT_FORMAT;
        }
    if (w->n == MAX_DEPTH) {
        msg_error("%s: more than %d folders deep; not walked", src, MAX_DEPTH);
        return CLI_EXIT_FORMAT;
    }
    int r = make_dir(dst, st->st_mode & 07777);
    if (r == CLI_EXIT_OK) {
        w->dev[w->n] = st->st_dev;
        w->ino[w->n++] = st->st_ino;
        r = walk_dir(w, src, dst, depth, followed);
        w->n--;
    }
    return r;
}

static int do_link(walker *w, const char *s, const char *dst_dir, const char *d,
                   const char *name, int depth, int followed)
{
    walk_job *job = w->job;
    char *text = walk_read_link(s);
    if (!text)
        return msg_errno(s, "reading link", errno);
    if (!job->follow_outside) {
        int rc = make_link(text, d, job->force);
        if (rc == CLI_EXIT_OK)
            job->stats.links_kept++;
        free(text);
        return rc;
    }
    char *rewrite = NULL;
    int err = 0, rc;
    struct stat st;
    switch (walk_classify_link(s, text, depth, !followed, w->root_real, &rewrite, &err)) {
    case LINK_KEEP:
        rc = make_link(text, d, job->force);
        if (rc == CLI_EXIT_OK)
            job->stats.links_kept++;
        break;
    case LINK_REWRITE:
        rc = make_link(rewrite, d, job->force);
        if (rc == CLI_EXIT_OK) {
            job->stats.links_rewritten++;
            msg_info("%s -> %s: leads into the tree by a path that leaves it; written as -> %s",
                     s, text, rewrite);
        }
        break;
    case LINK_OUTSIDE:
        if (stat(s, &st) != 0) {
            rc = msg_errno(s, "stat", errno);
        } else if (S_ISDIR(st.st_mode)) {
            msg_info("%s -> %s: outside the tree; its folder is stored as %s", s, text, d);
            job->stats.links_followed++;
            rc = enter_dir(w, s, d, &st, depth + 1, 1);
        } else if (S_ISREG(st.st_mode)) {
            msg_info("%s -> %s: outside the tree; its target is stored under the link's name", s, text);
            job->stats.links_followed++;
            rc = job->file(job->ctx, s, dst_dir, name);
        } else {
            msg_warn("%s -> %s: skipped: leads outside the tree to something that is "
                     "not a regular file or folder", s, text);
            rc = CLI_EXIT_OK;
        }
        break;
    default: /* LINK_DANGLING */
        msg_error("%s -> %s: dangling symlink (%s); recreated as it is, the output is "
                  "not complete", s, text, strerror(err));
        rc = make_link(text, d, job->force);
        job->stats.links_dangling++;
        cli_keep_first(&rc, cli_exit_for_errno(err == ENOMEM ? ENOMEM : ENOENT));
        break;
    }
    free(rewrite);
    free(text);
    return rc;
}

static int walk_dir(walker *w, const char *src, const char *dst, int depth, int followed)
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
            if (st.st_dev == w->dst_dev && st.st_ino == w->dst_ino)
                msg_warn("%s: skipped: it is the output folder", s);
            else
                cli_keep_first(&rc, enter_dir(w, s, d, &st, depth + 1, followed));
        } else if (S_ISLNK(st.st_mode)) {
            cli_keep_first(&rc, do_link(w, s, dst, d, name, depth, followed));
        } else if (S_ISREG(st.st_mode)) {
            cli_keep_first(&rc, w->job->file(w->job->ctx, s, dst, name));
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

int walk_tree(const char *src_root, const char *dst_root, walk_job *job)
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
    int rc = walk_check_names(src_root, have_dst ? &dst : NULL, job);
    if (rc)
        return rc;
    char *root_real = realpath(src_root, NULL);
    if (!root_real)
        return msg_errno(src_root, "resolving", errno);
    rc = make_dir(dst_root, sst.st_mode & 07777);
    if (rc == CLI_EXIT_OK && stat(dst_root, &dst) != 0)
        rc = msg_errno(dst_root, "stat", errno);
    if (rc == CLI_EXIT_OK && dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino) {
        msg_error("%s: output folder is the input folder", dst_root);
        rc = CLI_EXIT_USAGE;
    }
    if (rc == CLI_EXIT_OK) {
        walker *w = calloc(1, sizeof *w);
        if (!w) {
            rc = msg_errno(src_root, "allocating", ENOMEM);
        } else {
            *w = (walker){.job = job, .root_real = root_real,
                          .dst_dev = dst.st_dev, .dst_ino = dst.st_ino, .n = 1};
            w->dev[0] = sst.st_dev;
            w->ino[0] = sst.st_ino;
            rc = walk_dir(w, src_root, dst_root, 0, 0);
            free(w);
        }
    }
    free(root_real);
    return rc;
}

int walk_inputs(char *const *inputs, int n, const char *out_dir, walk_job *job,
                walk_input_fn file)
{
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        const char *in = inputs[i];
        struct stat st;
        if (df11store_is_url(in)) {
            cli_keep_first(&rc, file(job->ctx, in));   /* input_url.c opens it */
        } else if (stat(in, &st) != 0) {
            cli_keep_first(&rc, msg_errno(in, "stat", errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (out_dir) {
                cli_keep_first(&rc, walk_tree(in, out_dir, job));
            } else {
                msg_error("%s: is a folder; name the output folder with -o", in);
                cli_keep_first(&rc, CLI_EXIT_USAGE);
            }
        } else if (!S_ISREG(st.st_mode)) {
            cli_keep_first(&rc, input_refuse_special(in, &st));
        } else {
            cli_keep_first(&rc, file(job->ctx, in));
        }
    }
    return rc;
}
