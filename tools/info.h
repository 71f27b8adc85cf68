/* What 'df11 info' shows, gathered once and rendered as text or JSON. */
#ifndef DF11_CLI_INFO_H
#define DF11_CLI_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "df11.h"

typedef struct {
    const char *dtype;
    size_t tensors;
    uint64_t elements, length, stored;
} info_dtype_total;

typedef struct {
    const char *path;
    uint64_t original_size, stored_size, overhead;
    uint32_t chunks, chunk_size;
    df11_format_info format; /* version and features the file needs */
    const uint8_t *sha256;
    int is_safetensors;
    size_t ntensors;
    df11_tensor *tensors;
    size_t ndtypes;
    info_dtype_total *dtypes; /* in order of first appearance */
    info_dtype_total all;
} info_data;

const char *info_codec_name(df11_codec c);
/* Returns an exit code. */
int info_print_json(const info_data *d);

#endif
