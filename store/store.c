/* store.c - skeleton: every public function of df11store.h, not yet
 * implemented (DF11_E_INTERNAL), so fs/ and tools/ can build against the
 * header while the layer is filled in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "df11store.h"

static df11_status todo(df11_error *err, const char *what)
{
    if (err) {
        err->code = DF11_E_INTERNAL;
        snprintf(err->message, sizeof err->message, "%s: not implemented yet", what);
    }
    return DF11_E_INTERNAL;
}

void df11store_options_default(df11store_options *o) { memset(o, 0, sizeof *o); }
int df11store_is_url(const char *s)
{
    return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) || !strncmp(s, "s3://", 5));
}
df11_status df11store_open(const char *url, const df11store_options *o, df11store **out, df11_error *err)
{ (void)url; (void)o; *out = NULL; return todo(err, "df11store_open"); }
void df11store_close(df11store *s) { (void)s; }
df11store_snapshot *df11store_snapshot_get(df11store *s) { (void)s; return NULL; }
void df11store_snapshot_put(df11store_snapshot *snap) { (void)snap; }
size_t df11store_snapshot_count(const df11store_snapshot *snap) { (void)snap; return 0; }
const df11store_entry *df11store_snapshot_at(const df11store_snapshot *snap, size_t i) { (void)snap; (void)i; return NULL; }
const df11store_entry *df11store_snapshot_lookup(const df11store_snapshot *snap, const char *path) { (void)snap; (void)path; return NULL; }
uint64_t df11store_snapshot_generation(const df11store_snapshot *snap) { (void)snap; return 0; }
size_t df11store_count(const df11store *s) { (void)s; return 0; }
const df11store_entry *df11store_entry_at(const df11store *s, size_t i) { (void)s; (void)i; return NULL; }
const df11store_entry *df11store_lookup(const df11store *s, const char *path) { (void)s; (void)path; return NULL; }
df11_status df11store_source(df11store *s, const df11store_entry *e, df11_source *out, df11_error *err)
{ (void)s; (void)e; (void)out; return todo(err, "df11store_source"); }
df11_status df11store_open_object(const char *url, const df11store_options *o, df11_source *out, df11_error *err)
{ (void)url; (void)o; (void)out; return todo(err, "df11store_open_object"); }
df11_status df11store_refresh(df11store *s, int *changed, df11_error *err)
{ (void)s; if (changed) *changed = 0; return todo(err, "df11store_refresh"); }
char *df11store_stats(df11store *s) { (void)s; return strdup(""); }
df11_status df11store_write_manifest(const char *store_dir, df11_error *err)
{ (void)store_dir; return todo(err, "df11store_write_manifest"); }
df11_status df11store_write_manifest_ex(const char *store_dir, const df11store_manifest_options *o, size_t *entries, df11_error *err)
{ (void)store_dir; (void)o; (void)entries; return todo(err, "df11store_write_manifest_ex"); }
df11store_name_rule df11store_shown_name(const char *name, char *shown, size_t cap,
                                         int (*exists)(void *ctx, const char *name), void *ctx)
{ (void)name; (void)shown; (void)cap; (void)exists; (void)ctx; return DF11STORE_NAME_SAME; }
