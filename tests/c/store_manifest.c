/*
 * store_manifest: the manifest and the entries of a store. A store folder
 * with every kind of entry (.df11 and .df11n objects, a shadowed .df11,
 * plain files, a symlink, nested folders, odd names) is written, read back
 * and compared with the folder; damaged manifests are refused with the
 * right status; a folder without a manifest is listed by walking it;
 * refresh swaps snapshots and keeps old ones alive while referenced; the
 * naming rule, the range-response checks and the credentials parser are
 * checked case by case.
 */
#include "store_util.h"

static char *store;

static void put(const char *rel, const void *buf, size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", store, rel);
    su_write(p, buf, n);
}

static void golden(const char *name, const char *rel)
{
    char g[4096], p[4096];
    snprintf(g, sizeof g, "%s/tests/golden/%s", su_root(), name);
    snprintf(p, sizeof p, "%s/%s", store, rel);
    su_copy(g, p);
}

static int has(void *ctx, const char *name)
{
    const char *const *v = ctx;
    for (; *v; v++)
        if (!strcmp(*v, name))
            return 1;
    return 0;
}

static void test_names(void)
{
    const char *dir[] = { "a.df11", "a.safetensors", "b.df11", "blob.df11n", "x", "x.df11n", NULL };
    struct { const char *in; df11store_name_rule r; const char *shown; } c[] = {
        { "b.df11", DF11STORE_NAME_DF11, "b.safetensors" },
        { "a.df11", DF11STORE_NAME_HIDDEN, NULL },      /* a.safetensors wins */
        { "blob.df11n", DF11STORE_NAME_DF11, "blob" },
        { "x.df11n", DF11STORE_NAME_HIDDEN, NULL },     /* x exists */
        { "config.json", DF11STORE_NAME_SAME, NULL },
        { ".df11", DF11STORE_NAME_SAME, NULL },         /* no stem: not packed */
        { "w.df11.df11n", DF11STORE_NAME_DF11, "w.df11" },
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char shown[256] = "";
        df11store_name_rule r = df11store_shown_name(c[i].in, shown, sizeof shown, has, dir);
        if (r != c[i].r || (c[i].shown && strcmp(shown, c[i].shown))) {
            printf("# %s -> %d %s\n", c[i].in, r, shown);
            ok = false;
        }
    }
    char longname[300];
    memset(longname, 'n', 250);
    strcpy(longname + 250, ".df11");
    char shown[300];
    ok = ok && df11store_shown_name(longname, shown, sizeof shown, NULL, NULL) == DF11STORE_NAME_HIDDEN;
    su_check(ok, "names.rule", NULL);
}

static void test_http_check(void)
{
    struct { long st; const char *cr, *cl; uint64_t body, off, len, exp; df11_status want; } c[] = {
        { 206, "bytes 0-99/1000", "100", 100, 0, 100, 1000, DF11_OK },
        { 206, "bytes 0-99/1000", NULL, 100, 0, 100, UINT64_MAX, DF11_OK },
        { 206, "bytes 0-99/*", "100", 100, 0, 100, 1000, DF11_OK },
        { 206, "bytes 0-99/1000", "100", 99, 0, 100, 1000, DF11_E_AGAIN },      /* short body */
        { 206, "bytes 0-99/1000", "99", 99, 0, 100, 1000, DF11_E_AGAIN },       /* short, consistent */
        { 206, "bytes 1-100/1000", "100", 100, 0, 100, 1000, DF11_E_AGAIN },    /* other range */
        { 206, "bytes 0-99/2000", "100", 100, 0, 100, 1000, DF11_E_IO },        /* object changed */
        { 206, NULL, "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes 0-99", "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes 99-0/1000", "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes 0-99/50", "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes -1-99/1000", "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes 0-99/1000", "1e2", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 206, "bytes 0-99/99999999999999999999999", "100", 100, 0, 100, 1000, DF11_E_AGAIN },
        { 200, NULL, "1000", 1000, 0, 1000, 1000, DF11_OK },                  /* whole object asked */
        { 200, NULL, "1000", 1000, 0, 100, 1000, DF11_E_AGAIN },              /* range ignored */
        { 200, NULL, NULL, 100, 0, 100, 1000, DF11_E_AGAIN },
        { 404, NULL, "10", 0, 0, 100, 1000, DF11_E_IO },
        { 403, NULL, NULL, 0, 0, 100, 1000, DF11_E_IO },
        { 416, NULL, NULL, 0, 0, 100, 1000, DF11_E_IO },
        { 500, NULL, "0", 0, 0, 100, 1000, DF11_E_AGAIN },
        { 503, NULL, "0", 0, 0, 100, 1000, DF11_E_AGAIN },
        { 429, NULL, "0", 0, 0, 100, 1000, DF11_E_AGAIN },
        { 302, NULL, "0", 0, 0, 100, 1000, DF11_E_IO },
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t total;
        char msg[256];
        df11_status st = http_check_range(c[i].st, c[i].cr, c[i].cl, c[i].body, c[i].off, c[i].len,
                                          c[i].exp, &total, msg, sizeof msg);
        if (st != c[i].want || (st && !msg[0])) {
            printf("# case %zu: %ld %s: got %s (%s)\n", i, c[i].st, c[i].cr ? c[i].cr : "-",
                   df11_status_name(st), msg);
            ok = false;
        }
    }
    su_check(ok, "http.range_responses", NULL);
}

static void test_creds(void)
{
    s3_creds c = { 0 };
    s3_creds_parse("[other]\naws_access_key_id = A\n# c\n[default]\n aws_access_key_id=K1 \n"
                   "aws_secret_access_key = S1\naws_session_token=T1\n[x]\naws_access_key_id=B\n",
                   "default", &c);
    bool ok = c.key && !strcmp(c.key, "K1") && c.secret && !strcmp(c.secret, "S1") && c.token &&
              !strcmp(c.token, "T1");
    s3_creds_free(&c);
    s3_creds_parse("[p2]\naws_access_key_id=K2\naws_secret_access_key=S2\n", "default", &c);
    ok = ok && !c.key && !c.secret;
    s3_creds_free(&c);
    su_check(ok, "s3.credentials_file", NULL);
    su_check(df11store_is_url("http://a/") && df11store_is_url("https://a/") &&
             df11store_is_url("s3://b/p") && !df11store_is_url("/srv/store") &&
             !df11store_is_url("ftp://x/"), "store.is_url", NULL);
}

static void build_store(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/sub/deeper", store);
    if (mkdir(p, 0755) && errno != EEXIST) {
        snprintf(p, sizeof p, "%s/sub", store);
        mkdir(p, 0750);
        snprintf(p, sizeof p, "%s/sub/deeper", store);
        mkdir(p, 0755);
    }
    golden("bf16.df11", "model.df11");
    golden("mixed.df11", "sub/blob.df11n");
    golden("f32.df11", "sub/deeper/f32.df11");
    golden("empty.df11", "shadow.df11");
    put("shadow.safetensors", "real", 4);
    put("config.json", "{\"a\":1}\n", 8);
    put("sub/we\"ird \\ n\x01me \xc3\xa9.txt", "odd", 3);
    put("empty.txt", "", 0);
    snprintf(p, sizeof p, "%s/latest.safetensors", store);
    if (symlink("model.safetensors", p) != 0)
        perror("symlink");
    snprintf(p, sizeof p, "%s/sub/deeper/f32.df11", store);
    chmod(p, 0600);
}

static df11store *open_local(df11_error *err, df11_status *st)
{
    df11store *s = NULL;
    *st = df11store_open(store, NULL, &s, err);
    return s;
}

static void test_round_trip(void)
{
    df11_error err;
    size_t n = 0;
    df11_status st = df11store_write_manifest_ex(store, NULL, &n, &err);
    su_check(!st && n == 11, "manifest.write", "%s, %zu entries", st ? err.message : "ok", n);
    df11store *s = open_local(&err, &st);
    if (!s) {
        su_check(false, "manifest.open", "%s", err.message);
        return;
    }
    struct { const char *path; df11store_kind k; const char *object; uint64_t size; uint32_t mode; } want[] = {
        { "", DF11STORE_DIR, NULL, 0, 0 },
        { "config.json", DF11STORE_FILE, "config.json", 8, 0644 },
        { "empty.txt", DF11STORE_FILE, "empty.txt", 0, 0644 },
        { "latest.safetensors", DF11STORE_LINK, NULL, 17, 0777 },
        { "model.safetensors", DF11STORE_DF11, "model.df11", 146200, 0644 },
        { "shadow.safetensors", DF11STORE_FILE, "shadow.safetensors", 4, 0644 },
        { "sub", DF11STORE_DIR, NULL, 0, 0 },
        { "sub/blob", DF11STORE_DF11, "sub/blob.df11n", 0, 0644 },
        { "sub/deeper", DF11STORE_DIR, NULL, 0, 0 },
        { "sub/deeper/f32.safetensors", DF11STORE_DF11, "sub/deeper/f32.df11", 0, 0600 },
        { "sub/we\"ird \\ n\x01me \xc3\xa9.txt", DF11STORE_FILE, "sub/we\"ird \\ n\x01me \xc3\xa9.txt", 3, 0644 },
    };
    bool ok = df11store_count(s) == sizeof want / sizeof want[0];
    for (size_t i = 0; ok && i < sizeof want / sizeof want[0]; i++) {
        const df11store_entry *e = df11store_entry_at(s, i);
        bool good = e && !strcmp(e->path, want[i].path) && e->kind == want[i].k &&
                    (!want[i].object ? !e->object : e->object && !strcmp(e->object, want[i].object)) &&
                    (!want[i].size || e->size == want[i].size) &&
                    (!want[i].mode || e->mode == want[i].mode) && df11store_lookup(s, e->path) == e;
        if (!good) {
            printf("# entry %zu: %s kind %d size %llu mode %o\n", i, e ? e->path : "(none)",
                   e ? (int)e->kind : -1, e ? (unsigned long long)e->size : 0ull, e ? e->mode : 0);
            ok = false;
        }
    }
    su_check(ok, "manifest.entries", "count %zu", df11store_count(s));
    const df11store_entry *l = df11store_lookup(s, "latest.safetensors");
    const df11store_entry *m = df11store_lookup(s, "model.safetensors");
    df11_reader *r = NULL;
    char g[4096];
    snprintf(g, sizeof g, "%s/tests/golden/bf16.df11", su_root());
    bool sha_ok = m && df11_open(g, &r, &err) == DF11_OK && !memcmp(m->sha256, df11_original_sha256(r), 32) &&
                  m->stored_size == df11_stored_size(r);
    df11_close(r);
    su_check(l && !strcmp(l->link_target, "model.safetensors") && sha_ok, "manifest.link_and_sha256", NULL);
    /* Tree: the root's children in name order, sub's parent is the root. */
    const df11store_entry *root = df11store_entry_at(s, 0), *sub = df11store_lookup(s, "sub");
    size_t kids = 0;
    const char *prev = "";
    bool order = true;
    for (size_t c = root->child; c != DF11STORE_NONE; c = df11store_entry_at(s, c)->sibling) {
        const df11store_entry *e = df11store_entry_at(s, c);
        order = order && strcmp(prev, e->name) < 0 && e->parent == 0;
        prev = e->name;
        kids++;
    }
    su_check(kids == 6 && order && sub && sub->parent == 0 && !strcmp(df11store_entry_at(s, sub->child)->name, "blob"),
             "manifest.tree_links", "root has %zu children", kids);
    /* Every stored file reads back as it is on disk. */
    bool same = true;
    for (size_t i = 0; i < df11store_count(s); i++) {
        const df11store_entry *e = df11store_entry_at(s, i);
        if (e->kind != DF11STORE_FILE && e->kind != DF11STORE_DF11)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", store, e->object);
        size_t fn = 0;
        uint8_t *f = su_read(p, &fn), *b = su_read_entry(s, e, &st, &err);
        same = same && f && b && fn == e->stored_size && !memcmp(f, b, fn);
        free(f);
        free(b);
    }
    su_check(same, "manifest.objects_read_back", NULL);
    df11store_close(s);

    /* Rewriting reuses the hashes: same bytes. */
    char mp[4096];
    snprintf(mp, sizeof mp, "%s/" DF11STORE_MANIFEST_NAME, store);
    size_t n1, n2;
    uint8_t *a = su_read(mp, &n1);
    df11store_write_manifest(store, &err);
    uint8_t *b = su_read(mp, &n2);
    su_check(a && b && n1 == n2 && !memcmp(a, b, n1), "manifest.rewrite_same", NULL);

    /* Damaged manifests. */
    struct { const char *name; size_t at; int op; df11_status want; } d[] = {
        { "manifest.bad_checksum", 200, 1, DF11_E_CHECKSUM },
        { "manifest.truncated", 0, 2, DF11_E_TRUNCATED },
        { "manifest.bad_magic", 0, 3, DF11_E_BAD_MAGIC },
        { "manifest.future_version", 0, 4, DF11_E_VERSION },
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        uint8_t *c = malloc(n1);
        memcpy(c, a, n1);
        size_t cn = n1;
        if (d[i].op == 1) c[d[i].at] ^= 4;
        if (d[i].op == 2) cn = n1 - 10;
        if (d[i].op == 3) c[0] = 'X';
        if (d[i].op == 4) c[13] = '7';
        df11store_snapshot *snap = NULL;
        df11_status got = mf_parse(c, cn, "m", &snap, &err);
        su_check(got == d[i].want && !snap && strstr(err.message, "m"), d[i].name, "%s: %s",
                 df11_status_name(got), err.message);
        free(c);
    }
    free(a);
    free(b);
}

static void test_walk_and_refresh(void)
{
    df11_error err;
    df11_status st;
    char mp[4096];
    snprintf(mp, sizeof mp, "%s/" DF11STORE_MANIFEST_NAME, store);
    /* Without a manifest: the same paths by walking. */
    rename(mp, "/tmp/df11-store-manifest.saved");
    df11store *w = open_local(&err, &st);
    rename("/tmp/df11-store-manifest.saved", mp);
    df11store *s = open_local(&err, &st);
    bool same = w && s && df11store_count(w) == df11store_count(s);
    for (size_t i = 0; same && i < df11store_count(s); i++)
        same = !strcmp(df11store_entry_at(w, i)->path, df11store_entry_at(s, i)->path) &&
               df11store_entry_at(w, i)->size == df11store_entry_at(s, i)->size;
    su_check(same, "store.walk_without_manifest", NULL);
    df11store_close(w);

    /* Refresh: unchanged, then a new file published. */
    int changed = -1;
    st = df11store_refresh(s, &changed, &err);
    su_check(!st && changed == 0, "store.refresh_unchanged", "%s", st ? err.message : "");
    df11store_snapshot *old = df11store_snapshot_get(s);
    const df11store_entry *cfg = df11store_snapshot_lookup(old, "config.json");
    put("new.json", "{}", 2);
    df11store_write_manifest(store, &err);
    st = df11store_refresh(s, &changed, &err);
    df11store_snapshot *now = df11store_snapshot_get(s);
    su_check(!st && changed == 1 && df11store_lookup(s, "new.json") && !df11store_snapshot_lookup(old, "new.json") &&
             df11store_snapshot_generation(now) == 2,
             "store.refresh_changed", "%s", st ? err.message : "");
    df11store_snapshot_put(now);
    /* Two more changes: the store has dropped the old snapshot, our
     * reference keeps it (ASan would see a use after free). */
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "new%d.json", i);
        put(name, "{}", 2);
        df11store_write_manifest(store, &err);
        df11store_refresh(s, &changed, &err);
    }
    su_check(cfg && !strcmp(cfg->path, "config.json") && df11store_snapshot_count(old) == 11,
             "store.snapshot_outlives_refresh", NULL);
    df11store_snapshot_put(old);
    df11store_close(s);
}

int main(void)
{
    char *root = su_tmpdir("store-manifest");
    store = malloc(4096);
    snprintf(store, 4096, "%s/store", root);
    mkdir(store, 0755);
    test_names();
    test_http_check();
    test_creds();
    build_store();
    test_round_trip();
    test_walk_and_refresh();
    su_rmrf(root);
    free(root);
    free(store);
    return su_failures ? 1 : 0;
}
