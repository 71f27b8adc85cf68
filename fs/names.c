/* names.c - the name mapping between STORE and the mount. The naming rule
 * itself is libdf11store's (df11store_original_name and friends), shared
 * with the CLI and the manifest writer; this file applies it to a folder.
 *
 * Two kinds of compressed file, told apart by their suffix alone, so the
 * original name is known without opening anything (doc/FS.md, "Names"):
 *  - a regular file X.df11 is the file X.safetensors (the original rule);
 *  - a regular file N.df11n is the file N, whatever N is: safetensors
 *    content under another name, such as a Hugging Face blob
 *    (blobs/<sha256>.df11n shows as blobs/<sha256>). "n" for "name kept".
 * Neither suffix ends the other, so every stored name means one thing.
 * Precedence, the same in lookup and readdir: a real entry N (a file that
 * is not itself a compressed one, a folder or a symlink) wins over any
 * compressed file shown as N (it already is the original); then X.df11
 * wins over X.safetensors.df11n.
 *  - Regular files named *.df11 or *.df11n are never visible under their
 *    own name.
 *  - Everything else (regular files, folders, symlinks) is mirrored as it
 *    is; sockets, fifos and devices are left out.
 *  - In the root, the name .df11fs-stats is the stats file and shadows any
 *    STORE entry of that name.
 * Directories keep their names, so a directory's mirrored path is also its
 * backing path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"

char *relpath_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    if (a) {
        memcpy(p, dir, a);
        p[a++] = '/';
    }
    memcpy(p + a, name, b + 1);
    return p;
}

/* A regular file with this name is a compressed one, shown under another
 * name (the rule is libdf11store's, shared with the CLI). */
static int is_packed(const char *s) { return df11store_is_stored_name(s); }

int names_kind_of(mode_t m, enum node_kind *k)
{
    if (S_ISDIR(m)) *k = NK_DIR;
    else if (S_ISREG(m)) *k = NK_REG;
    else if (S_ISLNK(m)) *k = NK_LNK;
    else return -ENOENT;
    return 0;
}

/* Looks for the compressed file `stored` (a regular file) behind a name
 * that has no visible entry. 1: found (r filled), 0: not there, <0 error. */
static int try_packed(const char *dir, const char *stored, struct resolved *r)
{
    if (strlen(stored) > NAME_MAX)
        return 0;
    char *p = relpath_join(dir, stored);
    if (!p)
        return -ENOMEM;
    int rc = bstat(p, &r->st);
    if (rc == 0 && S_ISREG(r->st.st_mode)) {
        r->bpath = p;
        r->kind = NK_DF11;
        return 1;
    }
    free(p);
    return rc == 0 || rc == -ENOENT ? 0 : rc;
}

int names_resolve(const char *dir, const char *name, struct resolved *r)
{
    size_t n = strlen(name);
    if (n > NAME_MAX)
        return -ENAMETOOLONG;
    if (strchr(name, '/') || n == 0 || !strcmp(name, ".") || !strcmp(name, ".."))
        return -ENOENT;
    if (!*dir && !strcmp(name, DF11STORE_MANIFEST_NAME))
        return -ENOENT;     /* the store's bookkeeping, not the original tree */
    r->bpath = relpath_join(dir, name);
    if (!r->bpath)
        return -ENOMEM;
    if (remote_active()) {     /* the manifest already holds the shown names */
        int df11 = 0;
        int rc = remote_stat(r->bpath, &r->st, &df11);
        if (rc == 0 && df11)
            r->kind = NK_DF11;
        else if (rc == 0)
            rc = names_kind_of(r->st.st_mode, &r->kind);
        if (rc) {
            free(r->bpath);
            r->bpath = NULL;
        }
        return rc;
    }
    int rc = bstat(r->bpath, &r->st);
    if (rc == 0 && fs_cfg.mount_dev && r->st.st_dev == fs_cfg.mount_dev) {
        /* Our own mount, reached through STORE (a bind mount of it, or a
         * mount point inside STORE): serving it would make the daemon wait
         * on requests to itself. */
        if (fs_log_first_time(fs_hash_str(1, r->bpath)))
            fs_log(LOG_WARNING, "%s: is this mount itself; not shown", r->bpath);
        free(r->bpath);
        r->bpath = NULL;
        return -ENOENT;
    }
    if (rc == 0) {
        rc = names_kind_of(r->st.st_mode, &r->kind);
        if (rc == 0 && !(r->kind == NK_REG && is_packed(name)))
            return 0;   /* a real entry: passed through */
        rc = -ENOENT;   /* hidden or not showable: a compressed file may stand for it */
    }
    free(r->bpath);
    r->bpath = NULL;
    if (rc != -ENOENT)
        return rc;
    /* The compressed files that show as name, in precedence order. */
    char *cand[2];
    size_t nc = df11store_stored_candidates(name, cand);
    if (nc == (size_t)-1)
        return -ENOMEM;
    rc = 0;
    for (size_t i = 0; i < nc; i++) {
        if (!rc)
            rc = try_packed(dir, cand[i], r);
        free(cand[i]);
    }
    return rc > 0 ? 0 : rc < 0 ? rc : -ENOENT;
}

static int list_add(struct dir_list *dl, size_t *cap, const char *name, size_t len,
                    ino_t d_ino, mode_t type)
{
    if (dl->n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        struct dirent_v *e = realloc(dl->e, c * sizeof *e);
        if (!e)
            return -ENOMEM;
        dl->e = e;
        *cap = c;
    }
    char *s = strndup(name, len);
    if (!s)
        return -ENOMEM;
    dl->e[dl->n++] = (struct dirent_v){ s, d_ino ? d_ino : 1, type };
    return 0;
}

/* 1 when dir holds an entry named name that lookup passes through (see
 * names_resolve): a regular file that is not a compressed one, a folder or
 * a symlink. */
static int visible_entry(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return !is_packed(name);
    return S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
}

/* Lists the compressed file `name` under its original name vname, unless
 * that name is taken by a visible entry or by a compressed file of higher
 * precedence (X.df11 over X.safetensors.df11n), as lookup decides. */
static int list_packed(struct dir_list *dl, size_t *cap, int fd, const char *dir,
                       const char *name, const char *vname, ino_t ino)
{
    size_t vn = strlen(vname);
    if (vn > NAME_MAX) {
        if (fs_log_first_time(fs_hash_str(2, name)))
            fs_log(LOG_WARNING, "%s%s%s: not shown: its original name would be longer than %d bytes",
                   dir, *dir ? "/" : "", name, NAME_MAX);
        return 0;
    }
    if (visible_entry(fd, vname))
        return 0;
    char *cand[2];
    size_t nc = df11store_stored_candidates(vname, cand);
    if (nc == (size_t)-1)
        return -ENOMEM;
    int shadowed = 0, below = 0;    /* below: past our own precedence */
    struct stat st;
    for (size_t i = 0; i < nc; i++) {
        if (!strcmp(cand[i], name))
            below = 1;  /* lower-precedence names do not shadow this one */
        else if (!below && !shadowed &&
                 fstatat(fd, cand[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            shadowed = 1;
        free(cand[i]);
    }
    return shadowed ? 0 : list_add(dl, cap, vname, vn, ino, S_IFREG);
}

int names_list(const char *dir, struct dir_list *out)
{
    if (remote_active())
        return remote_list(dir, out, list_add);
    int fd = store_open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct dir_list dl = { 0 };
    size_t cap = 0;
    int rc = list_add(&dl, &cap, ".", 1, 1, S_IFDIR);
    if (!rc)
        rc = list_add(&dl, &cap, "..", 2, 1, S_IFDIR);
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if (!*dir && (!strcmp(name, FS_STATS_NAME) || !strcmp(name, DF11STORE_MANIFEST_NAME)))
            continue;
        mode_t type;
        struct stat st;
        switch (de->d_type) {
        case DT_REG: type = S_IFREG; break;
        case DT_DIR: type = S_IFDIR; break;
        case DT_LNK: type = S_IFLNK; break;
        case DT_UNKNOWN:
            if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = st.st_mode & S_IFMT;
            break;
        default: continue;
        }
        if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
            continue;
        char *vname = type == S_IFREG ? df11store_original_name(name) : NULL;
        if (type == S_IFREG && !vname && errno == ENOMEM) {
            rc = -ENOMEM;
        } else if (vname) {
            rc = list_packed(&dl, &cap, fd, dir, name, vname, de->d_ino);
            free(vname);
        } else {
            rc = list_add(&dl, &cap, name, n, de->d_ino, type);
        }
    }
    if (!rc && errno)
        rc = -errno;
    closedir(d);
    if (rc) {
        dir_list_free(&dl);
        return rc;
    }
    *out = dl;
    return 0;
}

void dir_list_free(struct dir_list *dl)
{
    for (size_t i = 0; i < dl->n; i++)
        free(dl->e[i].name);
    free(dl->e);
    dl->e = NULL;
    dl->n = 0;
}
