/* fs_core.c - the df11fs core without a mount: read planning at every chunk
 * boundary, cache eviction under pinning, drop-behind, replacement of a
 * file while it is read, and path resolution beneath STORE. The oracle is
 * the original file's bytes, written by the test itself. Links the fs/
 * objects that have no FUSE types (everything but main, ops and watch). */
#include "codec_util.h"
#include "../../fs/fs.h"

#include <errno.h>
#include <fcntl.h>

#define CHUNK_LOG2 16
#define CHUNK (1u << CHUNK_LOG2)

static char *dir;

/* A safetensors file of several BF16 tensors (so several segments, each a
 * few chunks, with odd tails), compressed into STORE/name.df11. Returns the
 * original bytes. */
static uint8_t *make_file(const char *name, uint64_t seed, size_t *size)
{
    tu_rng r = { seed };
    static const size_t lens[] = { 3 * CHUNK + 4242, CHUNK, 2 * CHUNK - 2, 9000, 5 * CHUNK + 2 };
    tu_tensor t[5];
    uint8_t *data[5];
    char names[5][16];
    for (int i = 0; i < 5; i++) {
        data[i] = malloc(lens[i]);
        tu_fill_bf16(&r, data[i], lens[i] / 2, 0.02 + 0.01 * i);
        snprintf(names[i], sizeof names[i], "w%d", i);
        t[i] = (tu_tensor){ names[i], "BF16", lens[i] / 2, data[i], lens[i] };
    }
    char src[4096], out[4096];
    snprintf(src, sizeof src, "%s/%s.safetensors", dir, name);
    snprintf(out, sizeof out, "%s/%s.df11", dir, name);
    uint8_t *orig = tu_write_safetensors(src, t, 5, size);
    for (int i = 0; i < 5; i++) free(data[i]);
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.chunk_log2 = CHUNK_LOG2;
    o.threads = 1;
    df11_error err;
    if (!orig || df11_encode_file(src, out, &o, &err) != DF11_OK) {
        printf("FAIL setup: cannot make %s: %s\n", out, orig ? err.message : "write");
        exit(1);
    }
    unlink(src);
    return orig;
}

static struct vfile *open_vf(const char *bpath)
{
    struct stat st;
    uint64_t osize;
    struct fs_ident id;
    if (vfile_probe(bpath, bpath, &st, &osize) != 0)
        return NULL;
    fs_ident_of(&st, &id);
    struct vfile *vf = NULL;
    return vfile_get(bpath, &id, bpath, &vf) == 0 ? vf : NULL;
}

/* Plans a read, compares its pieces with the original, releases it. */
static bool read_ok(struct vfile *vf, struct ra_state *ra, const uint8_t *orig, size_t osize,
                    uint64_t off, size_t len, int release_served)
{
    struct read_plan p;
    int rc = read_plan_make(&p, vf, ra, off, len);
    size_t want = off >= osize ? 0 : (len < osize - off ? len : osize - off);
    bool ok = rc == 0 && p.size == want;
    size_t at = 0;
    for (uint32_t i = 0; ok && i < p.n; i++) {
        ok = memcmp(p.iov[i].iov_base, orig + off + at, p.iov[i].iov_len) == 0;
        at += p.iov[i].iov_len;
    }
    ok = ok && at == want;
    read_plan_release(&p, release_served);
    return ok;
}

static void test_boundaries(struct vfile *vf, const uint8_t *orig, size_t osize)
{
    /* Every chunk boundary, with reads that end on it, start on it, cross
     * it and cover the chunks on both sides; then EOF and past it. */
    bool ok = true;
    unsigned reads = 0;
    for (uint32_t c = 0; c < vf->nchunks && ok; c++) {
        uint64_t b;
        uint32_t clen;
        df11_chunk_extent(vf->r, c, &b, &clen);
        const int64_t starts[] = { -1, 0, 1, -4096, (int64_t)clen - 1 };
        const size_t lens[] = { 1, 2, 4096, 131072, (size_t)clen, (size_t)clen + 1 };
        for (size_t i = 0; i < sizeof starts / sizeof *starts && ok; i++) {
            if ((int64_t)b + starts[i] < 0)
                continue;
            for (size_t j = 0; j < sizeof lens / sizeof *lens && ok; j++, reads++) {
                ok = read_ok(vf, NULL, orig, osize, (uint64_t)((int64_t)b + starts[i]), lens[j], 0);
                if (!ok)
                    printf("# chunk %u start %+lld len %zu\n", c, (long long)starts[i], lens[j]);
            }
        }
    }
    tu_result(ok, "plan.every_chunk_boundary", "after %u reads", reads);
    tu_result(read_ok(vf, NULL, orig, osize, osize - 3, 100, 0), "plan.clipped_at_eof", NULL);
    tu_result(read_ok(vf, NULL, orig, osize, osize, 100, 0) && read_ok(vf, NULL, orig, osize, osize + 7, 1, 0),
              "plan.at_and_past_eof_empty", NULL);
    tu_result(read_ok(vf, NULL, orig, osize, 0, osize + 1000, 0), "plan.whole_file_one_read", NULL);
    tu_rng r = { 99 };
    ok = true;
    for (int i = 0; i < 2000 && ok; i++) {
        uint64_t off = tu_below(&r, osize);
        ok = read_ok(vf, NULL, orig, osize, off, 1 + tu_below(&r, 3 * CHUNK), 0);
    }
    tu_result(ok, "plan.random_reads", NULL);
}

static void test_pinning(struct vfile *vf, const uint8_t *orig, size_t osize)
{
    /* Budget is one chunk (see main). Two plans pinned at once hold more
     * than the budget; nothing pinned may be evicted under them; once
     * released, the cache goes back under its budget. */
    struct read_plan a, b;
    int ra = read_plan_make(&a, vf, NULL, 0, 3 * CHUNK);
    int rb = read_plan_make(&b, vf, NULL, 6 * CHUNK, 3 * CHUNK);
    bool ok = ra == 0 && rb == 0 && cache_bytes() >= 6ull * CHUNK;
    /* Pinned bytes are still intact after the second plan's eviction pass. */
    ok = ok && memcmp(a.iov[0].iov_base, orig, a.iov[0].iov_len) == 0 &&
         memcmp(b.iov[0].iov_base, orig + 6 * CHUNK, b.iov[0].iov_len) == 0;
    tu_result(ok, "cache.pinned_entries_survive_eviction", "cache %llu bytes",
              (unsigned long long)cache_bytes());
    read_plan_release(&a, 0);
    read_plan_release(&b, 0);
    tu_result(cache_bytes() <= CHUNK, "cache.back_under_budget_after_release", "%llu bytes",
              (unsigned long long)cache_bytes());
    tu_result(read_ok(vf, NULL, orig, osize, 5, 7 * CHUNK, 0), "cache.reads_after_eviction", NULL);
}

static void test_drop_behind(struct vfile *vf, const uint8_t *orig, size_t osize)
{
    /* A sequential reader, served chunk by chunk: chunks served in full
     * go at once, so the cache never holds more than the chunks in flight. */
    cache_reclaim();
    struct ra_state ra;
    ra_init(&ra);
    bool ok = true;
    uint64_t peak = 0;
    for (uint64_t off = 0; off < osize && ok; off += 32768) {
        ok = read_ok(vf, &ra, orig, osize, off, 32768, 1);
        if (cache_bytes() > peak)
            peak = cache_bytes();
    }
    ra_destroy(&ra);
    tu_result(ok, "seq.bytes", NULL);
    tu_result(cache_bytes() <= 2ull * CHUNK, "seq.drop_behind_leaves_nothing",
              "%llu bytes cached after a full sequential read of %zu", (unsigned long long)cache_bytes(),
              osize);
}

static void test_replacement(void)
{
    size_t s1, s2;
    uint8_t *o1 = make_file("rep", 11, &s1);
    struct vfile *old = open_vf("rep.df11");
    tu_result(old != NULL, "replace.open_old", NULL);
    if (!old) {
        free(o1);
        return;
    }
    struct fs_ident old_id = old->ident;
    /* The encoder writes next to it and renames over it, as df11 does. */
    char a[4096], b[4096];
    uint8_t *o2 = make_file("rep2", 12, &s2);
    snprintf(a, sizeof a, "%s/rep2.df11", dir);
    snprintf(b, sizeof b, "%s/rep.df11", dir);
    tu_result(rename(a, b) == 0, "replace.rename", NULL);
    struct vfile *again = NULL;
    tu_result(vfile_get("rep.df11", &old_id, "rep.df11", &again) == -ESTALE,
              "replace.old_version_is_stale_for_new_opens", NULL);
    tu_result(read_ok(old, NULL, o1, s1, 0, s1, 0), "replace.open_handle_reads_old_bytes", NULL);
    struct vfile *nv = open_vf("rep.df11");
    tu_result(nv && nv != old && read_ok(nv, NULL, o2, s2, 0, s2, 0), "replace.new_open_reads_new_bytes", NULL);
    tu_result(unlink(b) == 0 && read_ok(old, NULL, o1, s1, 1234, 3 * CHUNK, 0),
              "replace.removed_file_still_reads_through_old_handle", NULL);
    vfile_unref(nv);
    vfile_unref(old);
    free(o1);
    free(o2);
}

static void test_paths(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/real", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/real/f", dir);
    tu_write_file(p, (const uint8_t *)"x", 1);
    snprintf(p, sizeof p, "%s/link", dir);
    symlink("real", p);
    snprintf(p, sizeof p, "%s/out", dir);
    symlink("/etc", p);
    struct stat st;
    int fd = store_open("real/f", O_RDONLY);
    tu_result(fd >= 0, "path.plain_file_opens", "%s", strerror(-fd));
    if (fd >= 0)
        close(fd);
    fd = store_open("link/f", O_RDONLY);
    tu_result(fd == -ELOOP, "path.symlink_in_a_middle_component_refused", "got %d", fd);
    if (fd >= 0)
        close(fd);
    int rc = bstat("link/f", &st);
    tu_result(rc == -ELOOP || rc == -ENOTDIR, "path.bstat_through_symlink_refused", "got %d", rc);
    rc = bstat("out/passwd", &st);
    tu_result(rc == -ELOOP || rc == -ENOTDIR, "path.no_escape_through_absolute_link", "got %d", rc);
    tu_result(bstat("link", &st) == 0 && S_ISLNK(st.st_mode), "path.link_itself_stats_as_link", NULL);
    char buf[64];
    tu_result(store_readlink("link", buf, sizeof buf) == 0 && !strcmp(buf, "real"), "path.readlink", NULL);
    tu_result(store_open("../etc/passwd", O_RDONLY) < 0, "path.dotdot_refused", NULL);
    fd = store_open("", O_RDONLY | O_DIRECTORY);
    tu_result(fd >= 0, "path.root_opens", NULL);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    dir = tu_tempdir();
    if (!dir) {
        printf("FAIL setup: no temp dir\n");
        return 1;
    }
    fs_cfg.store = dir;
    fs_cfg.store_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fs_cfg.prefetch = 0;        /* deterministic: nothing decoded ahead */
    fs_cfg.workers = 2;
    fs_log_init(0);
    if (fs_cfg.store_fd < 0 || cache_init(CHUNK) != 0 || prefetch_start(2) != 0) {
        printf("FAIL setup\n");
        return 1;
    }
    size_t osize;
    uint8_t *orig = make_file("model", 7, &osize);
    struct vfile *vf = open_vf("model.df11");
    tu_result(vf && vf->size == osize && vf->nchunks > 8, "setup.vfile", NULL);
    if (vf) {
        test_boundaries(vf, orig, osize);
        test_pinning(vf, orig, osize);
        test_drop_behind(vf, orig, osize);
        vfile_unref(vf);
    }
    test_replacement();
    test_paths();
    prefetch_stop();
    vfile_drop_idle();
    cache_destroy();
    close(fs_cfg.store_fd);
    free(orig);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    free(dir);
    return tu_failures ? 1 : 0;
}
