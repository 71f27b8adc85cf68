#include "exitcodes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int cli_exit_for_status(df11_status s)
{
    switch (s) {
    case DF11_OK:
        return CLI_EXIT_OK;
    case DF11_E_IO:
        return CLI_EXIT_IO;
    case DF11_E_BAD_MAGIC:
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

int cli_exit_for_open(const char *path, df11_status s)
{
    static const unsigned char magic[8] = {0x44, 0x46, 0x31, 0x31, 0x0D, 0x0A, 0x1A, 0x0A};
    if (s != DF11_E_TRUNCATED)
        return cli_exit_for_status(s);
    /* The library reports any file under 128 bytes as truncated; an empty
     * file or a short text file was never a .df11 file at all. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CLI_EXIT_IO;
    unsigned char buf[8];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return CLI_EXIT_IO;
    if (n == 0 || memcmp(buf, magic, (size_t)n) != 0)
        return CLI_EXIT_FORMAT;
    return CLI_EXIT_CORRUPT;
}
