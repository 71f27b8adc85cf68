/* Folder mode's symlink policy (walk.h): where a link leads, and whether
 * its target text still leads there once the tree is mirrored elsewhere. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "walk.h"

char *walk_read_link(const char *path)
{
    /* st_size of a link is its text's length on most file systems, but 0 on
     * some (procfs): grow until the text fits. */
    size_t cap = 256;
    for (;;) {
        char *t = malloc(cap);
        if (!t)
            return NULL;
        ssize_t n = readlink(path, t, cap);
        if (n < 0) {
            int e = errno;
            free(t);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            t[n] = 0;
            return t;
        }
        free(t);
        if (cap > PATH_MAX * 4) {
            errno = ENAMETOOLONG;
            return NULL;
        }
        cap *= 2;
    }
}

/* 1 when the relative text, read from a folder depth levels below the
 * root, never climbs above the root. Then it names the same entry in any
 * copy of the tree that keeps the links inside it. */
static int stays_inside(const char *text, int depth)
{
    int level = depth;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--level < 0)
                return 0;
        } else if (n && !(n == 1 && p[0] == '.')) {
            level++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

link_class walk_classify_link(const char *path, const char *text, int depth,
                              int text_ok, const char *root_real, char **rewrite,
                              int *err)
{
    *rewrite = NULL;
    char *real = realpath(path, NULL);
    if (!real) {
        *err = errno;
        return LINK_DANGLING;
    }
    size_t rl = strlen(root_real);
    const char *rest;
    if (rl == 1) /* the root is "/" */
        rest = real + 1;
    else if (strncmp(real, root_real, rl) == 0 && (real[rl] == '/' || real[rl] == 0))
        rest = real[rl] ? real + rl + 1 : real + rl;
    else {
        free(real);
        return LINK_OUTSIDE;
    }
    if (text_ok && text[0] != '/' && stays_inside(text, depth)) {
        free(real);
        return LINK_KEEP;
    }
    /* "../" once per level up to the root, then the path below it. */
    size_t n = 3 * (size_t)depth + strlen(rest) + 2;
    char *r = malloc(n);
    if (r) {
        char *q = r;
        for (int i = 0; i < depth; i++, q += 3)
            memcpy(q, "../", 3);
        strcpy(q, *rest ? rest : (depth ? "" : "."));
        size_t len = strlen(r);
        if (len > 1 && r[len - 1] == '/')
            r[len - 1] = 0;
    }
    free(real);
    *rewrite = r;
    if (!r) {
        *err = ENOMEM;
        return LINK_DANGLING;
    }
    return LINK_REWRITE;
}
