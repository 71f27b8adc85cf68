/* mountinfo.c - reading /proc/self/mountinfo: the device number of our
 * own mount (a stat() of the mountpoint would be a request to ourselves)
 * and whether a folder already is a df11fs mount. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int fs_mount_devno(const char *mnt, const char *fstype, char *devno, size_t size)
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
        if (!sep || strncmp(sep + 3, fstype, strlen(fstype)))
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

