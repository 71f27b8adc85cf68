/* Folder mode's name-clash check (walk.h): a pass over the source tree with
 * the same naming as the copy itself (the command's out_name; links that
 * compress follows get the name their target would), before anything is
 * written. Two entries of one folder with the same output name are a
 * clash, whoever of them is renamed. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fsutil.h"
#include "msg.h"
#include "walk.h"

typedef struct {
    char *out;        /* the name in the destination */
    const char *name; /* the name in the source */
} entry;

static int by_out(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->out, y->out);
    return c ? c : strcmp(x->name, y->name);
}

/* 1 when the link at p would be followed to a regular file by compress. */
static int followed_file(const char *p, const char *root_real)
{
    struct stat st;
    if (!root_real || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    char *real = realpath(p, NULL);
    if (!real)
        return 0;
    size_t rl = strlen(root_real);
    int inside = rl == 1 || (strncmp(real, root_real, rl) == 0 &&
                             (real[rl] == '/' || real[rl] == 0));
    free(real);
    return !inside;
}

static int check_dir(const char *dir, const struct stat *skip, walk_job *job,
                     const char *root_real, int level)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return msg_errno(dir, "reading folder", errno);
    int rc = CLI_EXIT_OK, m = 0;
    entry *e = calloc((size_t)n + 1, sizeof *e);
    if (!e)
        rc = msg_errno(dir, "allocating", ENOMEM);
    for (int i = 0; e && i < n; i++) {
        const char *name = ents[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *p = path_join(dir, name);
        struct stat st;
        char *out = NULL;
        if (!p) {
            cli_keep_first(&rc, msg_errno(dir, "allocating", ENOMEM));
            continue;
        }
        if (lstat(p, &st) != 0) {
            /* walk_tree reports it when it gets there */
        } else if (S_ISDIR(st.st_mode)) {
            if ((!skip || st.st_dev != skip->st_dev || st.st_ino != skip->st_ino) && level < 256)
                cli_keep_first(&rc, check_dir(p, skip, job, root_real, level + 1));
        } else if (S_ISREG(st.st_mode) ||
                   (S_ISLNK(st.st_mode) && job->follow_outside && followed_file(p, root_real))) {
            out = job->out_name(job->ctx, p, name);
            if (!out)
                cli_keep_first(&rc, msg_errno(p, "allocating", ENOMEM));
        }
        e[m].name = name;
        e[m].out = out ? out : strdup(name);
        if (e[m].out)
            m++;
        else
            cli_keep_first(&rc, msg_errno(p, "allocating", ENOMEM));
        free(p);
    }
    if (e)
        qsort(e, (size_t)m, sizeof *e, by_out);
    for (int i = 0; e && i + 1 < m; i++) {
        if (strcmp(e[i].out, e[i + 1].out) != 0)
            continue;
        /* Name the renamed one first: that is what the user did not see. */
        const entry *a = &e[i], *b = &e[i + 1];
        if (strcmp(a->out, a->name) == 0) {
            const entry *t = a;
            a = b;
            b = t;
        }
        msg_error("%s/%s: would be written as %s, but %s/%s is in the same folder; "
                  "rename or move one of them (nothing was written)",
                  dir, a->name, a->out, dir, b->name);
        cli_keep_first(&rc, CLI_EXIT_FORMAT);
    }
    for (int i = 0; e && i < m; i++)
        free(e[i].out);
    free(e);
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

int walk_check_names(const char *src_root, const struct stat *skip, walk_job *job)
{
    char *root_real = realpath(src_root, NULL);
    int rc = check_dir(src_root, skip, job, root_real, 0);
    free(root_real);
    return rc;
}
