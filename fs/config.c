/* config.c - the daemon's configuration: main.c fills it once from the
 * command line, everything else only reads it. Defined apart from main.c
 * so the FUSE-free core links into tests/c/fs_core.c without a session. */
#include "fs.h"

struct fs_config fs_cfg = { .store_fd = -1 };
