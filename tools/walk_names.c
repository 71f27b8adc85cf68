/* Folder mode's name-clash check (walk.h): a pass over the source tree with
 * the same rules as the copy itself (symlinks not followed, the output
 * folder not entered), before anything is written. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "fsutil.h"
#include "msg.h"
#include "walk.h"

static int has_entry(struct dirent **ents, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ents[i]->d_name, name) == 0)
            return 1;
    return 0;
}

static int check_dir(const char *dir, const struct stat *skip, const walk_rename *rn)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return msg_errno(dir, "reading folder", errno);
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *p = path_join(dir, name);
        struct stat st;
        if (!p) {
            cli_keep_first(&rc, msg_errno(dir, "allocating", ENOMEM));
            continue;
        }
        if (lstat(p, &st) != 0) {
            /* walk_tree reports it when it gets there */
        } else if (S_ISDIR(st.st_mode)) {
            if (!skip || st.st_dev != skip->st_dev || st.st_ino != skip->st_ino)
                cli_keep_first(&rc, check_dir(p, skip, rn));
        } else if (S_ISREG(st.st_mode) && path_ends_with(name, rn->from)) {
            char *to = path_swap_suffix(name, rn->from, rn->to, 0);
            if (!to) {
                cli_keep_first(&rc, msg_errno(p, "allocating", ENOMEM));
            } else if (has_entry(ents, n, to)) {
                msg_error("%s: would be written as %s, but %s/%s is in the same folder; "
                          "rename or move one of them (nothing was written)",
                          p, to, dir, to);
                cli_keep_first(&rc, CLI_EXIT_FORMAT);
            }
            free(to);
        }
        free(p);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

int walk_check_names(const char *src_root, const struct stat *skip, const walk_rename *rn)
{
    return check_dir(src_root, skip, rn);
}
