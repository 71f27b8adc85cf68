/* bdi.c - raises the kernel readahead of our mount (-o readahead_kb).
 *
 * The kernel sizes sequential FUSE reads by the mount's readahead window,
 * 128 KiB by default, and caps it again with the max_readahead of the INIT
 * reply. Raising /sys/class/bdi/0:MINOR/read_ahead_kb after INIT makes
 * sequential reads arrive as max_pages (1 MiB) requests, several in flight.
 * The device number is taken from /proc/self/mountinfo: a stat() of the
 * mountpoint would be a request to ourselves. Needs root; otherwise it only
 * logs why (the benchmark and admins can write the file themselves). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs.h"

void bdi_set_readahead(void)
{
    if (fs_cfg.readahead_kb == 0 || !fs_cfg.mountpoint)
        return;
    char devno[64], path[128];
    if (fs_mount_devno(fs_cfg.mountpoint, "fuse", devno, sizeof devno) != 0) {
        fs_log(LOG_INFO, "readahead_kb: %s not found in /proc/self/mountinfo", fs_cfg.mountpoint);
        return;
    }
    snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", devno);
    FILE *f = fopen(path, "we");
    int ok = f && fprintf(f, "%u\n", fs_cfg.readahead_kb) > 0;
    int err = errno;
    if (f && fclose(f) != 0)
        ok = 0, err = errno;
    if (!ok)
        fs_log(LOG_INFO, "readahead_kb: cannot write %s: %s (reads stay at the kernel's default size)",
               path, strerror(err));
}
