/*
 * store_beneath: a local store is read beneath its folder, following no
 * symlink in any component, whichever way libdf11store reads it: through
 * df11store_open_beneath itself, through the local origin with a node cache,
 * and in place (no manifest, no cache). The attack: a folder looked up
 * while it was real is swapped for a link to a folder outside the store
 * that holds a file of the same name. Oracle: the outside file's bytes
 * (golden mixed.df11) never come back; the inside ones (bf16.df11) did.
 */
#include "store_util.h"

static char *tmp;

static void put(const char *golden, const char *dst)
{
    char g[4096];
    snprintf(g, sizeof g, "%s/tests/golden/%s", su_root(), golden);
    su_copy(g, dst);
}

/* Reads the entry sub/m.safetensors of a store opened with cache_dir
 * (NULL: in place), after swapping sub for a link to outside/. */
static void swap_case(const char *name, const char *cache_dir, bool manifest)
{
    /* paths stay short: tmp is a /tmp/df11-beneath.XXXXXX folder */
    char store[1024], p[4096], out[1024];
    snprintf(store, sizeof store, "%s/%s", tmp, name);
    snprintf(out, sizeof out, "%s/outside-%s", tmp, name);
    snprintf(p, sizeof p, "%s/sub", store);
    mkdir(store, 0755);
    mkdir(p, 0755);
    mkdir(out, 0755);
    snprintf(p, sizeof p, "%s/sub/m.df11", store);
    put("bf16.df11", p);
    snprintf(p, sizeof p, "%s/m.df11", out);
    put("mixed.df11", p);
    df11_error err;
    if (manifest && df11store_write_manifest(store, &err) != DF11_OK) {
        su_check(false, name, "manifest: %s", err.message);
        return;
    }
    df11store_options o;
    df11store_options_default(&o);
    o.cache_dir = cache_dir;
    df11store *s = NULL;
    if (df11store_open(store, &o, &s, &err) != DF11_OK) {
        su_check(false, name, "open: %s", err.message);
        return;
    }
    df11store_snapshot *snap = df11store_snapshot_get(s);
    const df11store_entry *e = df11store_snapshot_lookup(snap, "sub/m.safetensors");
    /* The swap, after the lookup. */
    char sub[2048], old[2048];
    snprintf(sub, sizeof sub, "%s/sub", store);
    snprintf(old, sizeof old, "%s/sub.old", store);
    bool swapped = rename(sub, old) == 0 && symlink(out, sub) == 0;
    df11_status st = DF11_E_ARG;
    size_t n = 0;
    uint8_t *got = e ? su_read_entry(s, e, &st, &err) : NULL;
    uint8_t *outside = NULL;
    snprintf(p, sizeof p, "%s/m.df11", out);
    outside = su_read(p, &n);
    bool leaked = got && outside && !memcmp(got, outside, n < 64 ? n : 64);
    su_check(e && swapped && !leaked && st != DF11_OK, name,
             "entry %d swapped %d leaked %d status %s", e != NULL, swapped, leaked,
             df11_status_name(st));
    free(got);
    free(outside);
    df11store_snapshot_put(snap);
    df11store_close(s);
}

int main(void)
{
    tmp = su_tmpdir("beneath");
    char p[4096];
    snprintf(p, sizeof p, "%s/d", tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/d/real", tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/d/real/f", tmp);
    su_write(p, "x", 1);
    snprintf(p, sizeof p, "%s/d/link", tmp);
    symlink("real", p);
    snprintf(p, sizeof p, "%s/d", tmp);
    int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = df11store_open_beneath(dfd, "real/f", O_RDONLY);
    su_check(fd >= 0, "beneath.plain_path_opens", "%d", fd);
    if (fd >= 0) close(fd);
    fd = df11store_open_beneath(dfd, "link/f", O_RDONLY);
    su_check(fd == -ELOOP || fd == -ENOTDIR, "beneath.symlink_in_the_middle_refused", "%d", fd);
    if (fd >= 0) close(fd);
    fd = df11store_open_beneath(dfd, "link", O_RDONLY);
    su_check(fd == -ELOOP, "beneath.symlink_at_the_end_refused", "%d", fd);
    if (fd >= 0) close(fd);
    fd = df11store_open_beneath(dfd, "../d/real/f", O_RDONLY);
    su_check(fd < 0, "beneath.dotdot_refused", "%d", fd);
    if (fd >= 0) close(fd);
    close(dfd);

    char cache[4096];
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    swap_case("swap.node_cache", cache, true);
    swap_case("swap.in_place", NULL, false);
    su_rmrf(tmp);
    free(tmp);
    return su_failures ? 1 : 0;
}
