#include "exitcodes.h"

#include <errno.h>

int cli_exit_for_status(df11_status s)
{
    switch (s) {
    case DF11_OK:
        return CLI_EXIT_OK;
    case DF11_E_IO:
    case DF11_E_AGAIN:
    case DF11_E_CHANGED: /* the input moved under us: run again */
        return CLI_EXIT_IO;
    case DF11_E_BAD_MAGIC: /* also an empty or short non-.df11 file */
    case DF11_E_VERSION:
    case DF11_E_NOT_SAFETENSORS:
        return CLI_EXIT_FORMAT;
    case DF11_E_TRUNCATED:
    case DF11_E_CORRUPT_HEADER:
    case DF11_E_CORRUPT_INDEX:
    case DF11_E_BAD_TABLE:
    case DF11_E_CORRUPT_CHUNK:
    case DF11_E_CHECKSUM:
    case DF11_E_SHA256:
        return CLI_EXIT_CORRUPT;
    default:
        /* ARG, RANGE, NOMEM, GPU, INTERNAL: our bug or the machine's limits */
        return CLI_EXIT_INTERNAL;
    }
}

int cli_exit_for_errno(int err)
{
    return err == ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_IO;
}
