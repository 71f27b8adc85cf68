/* Store options for URL operands, from the environment (input_url.c). */
#ifndef DF11_CLI_INPUT_URL_H
#define DF11_CLI_INPUT_URL_H

#include <sys/stat.h>

#include "df11store.h"

/* Defaults, then CURL_CA_BUNDLE, DF11_INSECURE=1, DF11_TIMEOUT (seconds),
 * DF11_CONNECTIONS, DF11_CACHE_DIR, DF11_CACHE_SIZE (bytes),
 * DF11_READAHEAD (blocks). The strings point into the environment. */
void input_url_options(df11store_options *o);

/* input_open_df11 (input.h) for a URL operand: *st, when not NULL, gets
 * mode 0644 and the time now (what an output made from it gets). */
int input_open_url_df11(const char *url, df11_reader **r, struct stat *st);

#endif
