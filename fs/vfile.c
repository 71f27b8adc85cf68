/* vfile.c - one opened version of a .df11 backing file.
 *
 * A vfile pins a df11_reader to the exact backing inode it was opened on.
 * Open handles keep their own reference, so a reader that opened the file
 * before it was replaced keeps decoding the old inode to the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs.h"

static atomic_uint_fast64_t next_vfile_id = 1;

void fs_ident_of(const struct stat *st, struct fs_ident *id)
{
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->mtime = st->st_mtim;
    id->size = st->st_size;
}

int fs_ident_eq(const struct fs_ident *a, const struct fs_ident *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int errno_of(df11_status s)
{
    switch (s) {
    case DF11_E_NOMEM: return ENOMEM;
    case DF11_E_ARG: return EINVAL;
    default: return EIO;
    }
}

int vfile_open(const char *bpath, const char *vname, struct vfile **out)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", fs_cfg.store, bpath) < 0)
        return -ENOMEM;
    /* The identity must describe the inode the reader holds: stat before
     * and after opening, and retry if a rename slipped in between. */
    for (int attempt = 0; attempt < 4; attempt++) {
        struct stat before, after;
        if (fstatat(fs_cfg.store_fd, bpath, &before, AT_SYMLINK_NOFOLLOW) != 0) {
            int e = errno;
            free(path);
            return -e;
        }
        df11_reader *r = NULL;
        df11_error err;
        df11_status s = df11_open(path, &r, &err);
        if (s != DF11_OK) {
            if (s == DF11_E_IO && fstatat(fs_cfg.store_fd, bpath, &after, AT_SYMLINK_NOFOLLOW) != 0) {
                int e = errno;      /* vanished meanwhile: not a data error */
                free(path);
                return -e;
            }
            fs_log(LOG_ERR, "%s: cannot open: %s", vname, err.message);
            STAT_ADD(errors, 1);
            free(path);
            return -errno_of(s);
        }
        if (fstatat(fs_cfg.store_fd, bpath, &after, AT_SYMLINK_NOFOLLOW) == 0 &&
            before.st_ino == after.st_ino && before.st_dev == after.st_dev &&
            before.st_size == after.st_size &&
            before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
            before.st_mtim.tv_nsec == after.st_mtim.tv_nsec) {
            struct vfile *vf = calloc(1, sizeof *vf);
            char *name = strdup(vname);
            if (!vf || !name) {
                free(vf);
                free(name);
                df11_close(r);
                free(path);
                return -ENOMEM;
            }
            atomic_init(&vf->refs, 1);
            atomic_init(&vf->seq_end, 0);
            vf->id = atomic_fetch_add(&next_vfile_id, 1);
            vf->r = r;
            fs_ident_of(&after, &vf->ident);
            vf->size = df11_original_size(r);
            vf->nchunks = df11_chunk_count(r);
            vf->name = name;
            free(path);
            *out = vf;
            return 0;
        }
        df11_close(r);
    }
    free(path);
    fs_log(LOG_WARNING, "%s: backing file keeps changing; giving up", vname);
    return -EAGAIN;
}

struct vfile *vfile_ref(struct vfile *vf)
{
    if (vf)
        atomic_fetch_add(&vf->refs, 1);
    return vf;
}

void vfile_unref(struct vfile *vf)
{
    if (!vf || atomic_fetch_sub(&vf->refs, 1) != 1)
        return;
    cache_drop_file(vf->id);
    df11_close(vf->r);
    free(vf->name);
    free(vf);
}
