/* names.c - the one naming rule between stored and shown names (see
 * df11store_shown_name in df11store.h). tools/naming.h states the same
 * rule for the CLI: X.safetensors is stored as X.df11, any other file with
 * safetensors content as N.df11n. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "int.h"

static const char DF11_EXT[] = DF11STORE_EXT_DF11;
static const char KEEP_EXT[] = DF11STORE_EXT_KEEP;
static const char ST_EXT[] = ".safetensors";

static int ends_with(const char *s, size_t n, const char *suf, size_t k)
{
    return n > k && memcmp(s + n - k, suf, k) == 0;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* 1 when the last component of p ends with suffix after a non-empty stem. */
static int has_suffix(const char *p, const char *suffix)
{
    const char *b = base_of(p);
    return ends_with(b, strlen(b), suffix, strlen(suffix));
}

/* p without its last cut bytes, then add. */
static char *swap(const char *p, size_t cut, const char *add)
{
    size_t n = strlen(p) - cut, k = strlen(add);
    char *r = malloc(n + k + 1);
    if (r) {
        memcpy(r, p, n);
        memcpy(r + n, add, k + 1);
    }
    return r;
}

char *df11store_stored_name(const char *original)
{
    if (has_suffix(original, ST_EXT))
        return swap(original, sizeof ST_EXT - 1, DF11_EXT);
    return swap(original, 0, KEEP_EXT);
}

char *df11store_original_name(const char *stored)
{
    errno = 0;
    if (has_suffix(stored, DF11_EXT))
        return swap(stored, sizeof DF11_EXT - 1, ST_EXT);
    if (has_suffix(stored, KEEP_EXT))
        return swap(stored, sizeof KEEP_EXT - 1, "");
    return NULL;
}

int df11store_is_stored_name(const char *p)
{
    return has_suffix(p, DF11_EXT) || has_suffix(p, KEEP_EXT);
}

size_t df11store_stored_candidates(const char *shown, char *out[2])
{
    size_t n = 0;
    if (has_suffix(shown, ST_EXT) && !(out[n++] = swap(shown, sizeof ST_EXT - 1, DF11_EXT)))
        return (size_t)-1;
    if (!(out[n++] = swap(shown, 0, KEEP_EXT))) {
        if (n == 2)
            free(out[0]);
        return (size_t)-1;
    }
    return n;
}

df11store_name_rule df11store_shown_name(const char *name, char *shown, size_t cap,
                                         int (*exists)(void *ctx, const char *name),
                                         void *ctx)
{
    char *orig = df11store_original_name(name);
    if (!orig)
        return DF11STORE_NAME_SAME;
    size_t n = strlen(orig);
    df11store_name_rule r = DF11STORE_NAME_DF11;
    if (n + 1 > cap || n > NAME_MAX)
        r = DF11STORE_NAME_HIDDEN;
    else
        memcpy(shown, orig, n + 1);
    free(orig);
    /* A real file of the shown name already is the original: it wins. */
    if (r == DF11STORE_NAME_DF11 && exists && exists(ctx, shown))
        r = DF11STORE_NAME_HIDDEN;
    return r;
}
