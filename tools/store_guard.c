#include "store_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exitcodes.h"
#include "msg.h"
#include "naming.h"
#include "df11store.h"

/* The first other compressed file in dir (malloc'd), or NULL. */
static char *other_packed(const char *dir, const char *self)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        struct stat st;
        if (strcmp(e->d_name, self) == 0 || !df11store_is_stored_name(e->d_name))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            found = strdup(e->d_name);
    }
    closedir(d);
    return found;
}

/* Undoes /proc/mounts' octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* The mount point (malloc'd) of a df11fs mount whose STORE holds the
 * folder real (df11fs names its STORE's real path as the mount's source),
 * or NULL. */
static char *mounted_store(const char *real)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    if (!f)
        return NULL;
    char *line = NULL, *hit = NULL;
    size_t cap = 0;
    while (!hit && getline(&line, &cap, f) > 0) {
        char *src = strtok(line, " "), *mnt = strtok(NULL, " "), *type = strtok(NULL, " ");
        if (!src || !mnt || !type || strcmp(type, "fuse.df11fs") != 0)
            continue;
        unescape(src);
        unescape(mnt);
        size_t n = strlen(src);
        if (src[0] == '/' && strncmp(real, src, n) == 0 &&
            (real[n] == 0 || real[n] == '/' || (n == 1)))
            hit = strdup(mnt);
    }
    free(line);
    fclose(f);
    return hit;
}

int store_guard_beside(const char *in, const char *out)
{
    const char *slash = strrchr(in, '/');
    char *dir = slash ? strndup(in, (size_t)(slash - in) + (slash == in)) : strdup(".");
    if (!dir)
        return CLI_EXIT_OK;
    const char *self = slash ? slash + 1 : in;
    char *why = NULL, *other = other_packed(dir, self), *real = realpath(dir, NULL);
    char *mnt = real ? mounted_store(real) : NULL;
    if (mnt) {
        if (asprintf(&why, "it is inside the store that df11fs has mounted at %s", mnt) < 0)
            why = NULL;
    } else if (other) {
        if (asprintf(&why, "it holds other compressed files, such as %s", other) < 0)
            why = NULL;
    }
    int rc = CLI_EXIT_OK;
    if (why) {
        msg_error("%s: not writing %s beside it: %s looks like a df11 store (%s), where %s "
                  "would hide %s from df11fs; name the output with -o (or -c), or give -f "
                  "to write it there anyway", in, out, dir, why, out, in);
        rc = CLI_EXIT_USAGE;
    }
    free(why);
    free(mnt);
    free(real);
    free(other);
    free(dir);
    return rc;
}
