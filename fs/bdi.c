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

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *d = s;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *d++ = *s++;
        }
    }
    *d = '\0';
}

/* Finds "MAJ:MIN" of the newest fuse mount at mnt; returns 0 or -1. */
static int mount_devno(const char *mnt, char *devno, size_t size)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int found = -1;
    while (getline(&line, &cap, f) > 0) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE ...;
         * fields never hold a raw space, so " - " is the separator. */
        char *sep = strstr(line, " - ");
        if (!sep || strncmp(sep + 3, "fuse", 4))
            continue;
        *sep = '\0';
        char *save = NULL, *fld[5];
        int n = 0;
        for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
            fld[n++] = t;
        if (n < 5)
            continue;
        unescape(fld[4]);
        if (strcmp(fld[4], mnt) || strlen(fld[2]) >= size)
            continue;
        strcpy(devno, fld[2]);
        found = 0;          /* keep going: a later line is a newer mount on top */
    }
    free(line);
    fclose(f);
    return found;
}

void bdi_set_readahead(void)
{
    if (fs_cfg.readahead_kb == 0 || !fs_cfg.mountpoint)
        return;
    char devno[64], path[128];
    if (mount_devno(fs_cfg.mountpoint, devno, sizeof devno) != 0) {
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
