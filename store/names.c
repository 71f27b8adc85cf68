/* names.c - the one naming rule between stored and shown names (see
 * df11store_shown_name in df11store.h). tools/naming.h states the same
 * rule for the CLI: X.safetensors is stored as X.df11, any other file with
 * safetensors content as N.df11n. */
#include <limits.h>

#include "int.h"

static const char DF11_EXT[] = ".df11";
static const char KEEP_EXT[] = ".df11n";
static const char ST_EXT[] = ".safetensors";

static int ends_with(const char *s, size_t n, const char *suf, size_t k)
{
    return n > k && memcmp(s + n - k, suf, k) == 0;
}

df11store_name_rule df11store_shown_name(const char *name, char *shown, size_t cap,
                                         int (*exists)(void *ctx, const char *name),
                                         void *ctx)
{
    size_t n = strlen(name);
    size_t stem, extra;
    const char *add;
    if (ends_with(name, n, DF11_EXT, sizeof DF11_EXT - 1)) {
        stem = n - (sizeof DF11_EXT - 1);
        add = ST_EXT;
        extra = sizeof ST_EXT - 1;
    } else if (ends_with(name, n, KEEP_EXT, sizeof KEEP_EXT - 1)) {
        stem = n - (sizeof KEEP_EXT - 1);
        add = "";
        extra = 0;
    } else {
        return DF11STORE_NAME_SAME;
    }
    if (stem + extra + 1 > cap || stem + extra > NAME_MAX)
        return DF11STORE_NAME_HIDDEN;
    memcpy(shown, name, stem);
    memcpy(shown + stem, add, extra + 1);
    /* A real file of the shown name already is the original: it wins. */
    if (exists && exists(ctx, shown))
        return DF11STORE_NAME_HIDDEN;
    return DF11STORE_NAME_DF11;
}
