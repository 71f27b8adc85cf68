/* A .df11 object named by a URL (http://, https://, s3://) as a command
 * operand: `df11 verify URL`, `df11 decompress URL -o FILE`. Read through
 * libdf11store with no disk cache; the reader's chunk checksums and the
 * SHA-256 check every byte. Settings come from the environment: the usual
 * http_proxy, CURL_CA_BUNDLE and AWS_* variables, and DF11_TIMEOUT,
 * DF11_CONNECTIONS, DF11_INSECURE=1, DF11_CACHE_DIR, DF11_CACHE_SIZE,
 * DF11_READAHEAD (doc/STORE.md). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "df11store.h"
#include "exitcodes.h"
#include "input.h"
#include "input_url.h"
#include "msg.h"

void input_url_options(df11store_options *o)
{
    df11store_options_default(o);
    const char *ca = getenv("CURL_CA_BUNDLE");
    o->ca_file = ca && *ca ? ca : NULL;
    const char *v = getenv("DF11_INSECURE");
    o->insecure = v && !strcmp(v, "1");
    if ((v = getenv("DF11_TIMEOUT")) && *v)
        o->timeout = atof(v);
    if ((v = getenv("DF11_CONNECTIONS")) && *v)
        o->connections = (unsigned)atoi(v);
    if ((v = getenv("DF11_CACHE_DIR")) && *v)
        o->cache_dir = v;
    if ((v = getenv("DF11_CACHE_SIZE")) && *v)
        o->cache_dir_size = strtoull(v, NULL, 10);
    if ((v = getenv("DF11_READAHEAD")) && *v)
        o->readahead = (unsigned)strtoul(v, NULL, 10);
}

int input_open_url_df11(const char *url, df11_reader **r, struct stat *st)
{
    df11store_options o;
    input_url_options(&o);
    df11_source src;
    df11_error err;
    if (df11store_open_object(url, &o, &src, &err) != DF11_OK)
        return msg_lib_error(&err);
    if (df11_open_source(&src, r, &err) != DF11_OK)
        return msg_lib_error(&err);
    if (st) {
        /* What an output made from it gets: rw-r--r--, written now. */
        memset(st, 0, sizeof *st);
        st->st_mode = S_IFREG | 0644;
        clock_gettime(CLOCK_REALTIME, &st->st_mtim);
        st->st_atim = st->st_mtim;
        st->st_size = (off_t)src.size;
    }
    return CLI_EXIT_OK;
}
