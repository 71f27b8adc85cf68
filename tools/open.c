#include "open.h"

#include "exitcodes.h"
#include "msg.h"

int cli_open(const char *path, df11_reader **r)
{
    df11_error err;
    df11_status s = df11_open(path, r, &err);
    if (s == DF11_OK)
        return CLI_EXIT_OK;
    msg_lib_error(&err);
    return cli_exit_for_open(path, s);
}
