/* read_plan.c - what a read of a .df11-backed file needs, without FUSE:
 * which chunks it touches, who decodes them (this thread, the workers, a
 * GPU batch), the pinned cache entries, and the pieces of the reply. The
 * FUSE handler (ops.c) only sends the pieces and releases the plan, so
 * this file is tested without a mount (tests/c/fs_core.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

void read_plan_init(struct read_plan *p)
{
    memset(p, 0, sizeof *p);
    p->es = p->es_small;
    p->iov = p->iov_small;
}

int read_plan_make(struct read_plan *p, struct vfile *vf, struct ra_state *ra, uint64_t off,
                   size_t size)
{
    read_plan_init(p);
    if (off >= vf->size || size == 0)
        return 0;               /* EOF: an empty reply */
    if (size > vf->size - off)
        size = (size_t)(vf->size - off);
    p->seq = ra ? ra_note(ra, vf, off, size) : 0;
    uint32_t first = df11_chunk_at(vf->r, off), last = df11_chunk_at(vf->r, off + size - 1);
    uint32_t n = last - first + 1;
    p->first = first;
    if (fs_cfg.gpu_active && n >= fs_cfg.gpu_min_chunks)
        cache_fill(vf, first, n, 1);
    else if (n > 1 && !p->seq)
        decode_split(vf, first + 1, n - 1);
    if (n > READ_PLAN_SMALL) {
        p->es = calloc(n, sizeof *p->es);
        p->iov = calloc(n, sizeof *p->iov);
        if (!p->es || !p->iov)
            return -ENOMEM;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        df11_status st = DF11_OK;
        struct centry *e = cache_get(vf, first + i, &st);
        if (!e)
            return st == DF11_E_NOMEM ? -ENOMEM : -EIO;
        p->es[p->n++] = e;
        uint64_t coff;
        uint32_t clen;
        df11_chunk_extent(vf->r, first + i, &coff, &clen);
        uint64_t lo = off > coff ? off - coff : 0;
        uint64_t hi = off + size < coff + clen ? off + size - coff : clen;
        if (hi <= lo || centry_len(e) != clen)
            return -EIO;
        p->iov[i].iov_base = (void *)(centry_data(e) + lo);
        p->iov[i].iov_len = (size_t)(hi - lo);
        total += p->iov[i].iov_len;
    }
    /* Never a short reply: the kernel would take it for the end of file. */
    if (total != size)
        return -EIO;
    p->size = size;
    return 0;
}

void read_plan_release(struct read_plan *p, int served)
{
    for (uint32_t i = 0; i < p->n; i++) {
        if (p->seq && served)
            cache_put_served(p->es[i], (uint32_t)p->iov[i].iov_len);
        else
            cache_put(p->es[i]);
    }
    if (p->es != p->es_small)
        free(p->es);
    if (p->iov != p->iov_small)
        free(p->iov);
    read_plan_init(p);
}
