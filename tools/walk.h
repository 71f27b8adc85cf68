/*
 * Folder mode: mirrors a source tree into a destination tree. Folders are
 * created (empty ones too), each regular file is handed to a callback that
 * decides what to write, and symlinks follow one policy (doc/CLI.md,
 * "Symlinks"):
 *  - a link that resolves inside the tree stays a link; its relative target
 *    text is kept as is, so it resolves again once df11fs shows the
 *    compressed files under their original names (an absolute or
 *    out-and-back-in target is rewritten relative);
 *  - with follow_outside (compress), a link that resolves outside the tree
 *    is followed and its target stored under the link's name (a folder is
 *    walked, with loops refused), so the output is complete on its own;
 *    without it (decompress: a store's links point at names that only exist
 *    once mapped) every link is recreated as is;
 *  - a dangling link is recreated as is and reported as an error (exit 2):
 *    exit 0 means the output is complete and every link in it resolves
 *    inside it.
 */
#ifndef DF11_CLI_WALK_H
#define DF11_CLI_WALK_H

#include <sys/stat.h>

/* src: path of the regular file (or of a followed link to one); dst_dir:
 * existing destination folder; name: the entry name. The callback opens
 * src under input.h's rule. Returns an exit code. */
typedef int (*walk_file_fn)(void *ctx, const char *src, const char *dst_dir,
                            const char *name);

/* The name a regular file (or followed link to one) src called name will
 * have in the destination: malloc'd, or NULL when out of memory. Used by
 * the clash check before anything is written. */
typedef char *(*walk_name_fn)(void *ctx, const char *src, const char *name);

typedef struct {
    unsigned long links_kept, links_rewritten, links_followed, links_dangling;
} walk_stats;

typedef struct {
    int force;
    int follow_outside;
    walk_file_fn file;
    walk_name_fn out_name;
    void *ctx;
    walk_stats stats; /* counted by walk_tree */
} walk_job;

/* Refuses (exit 3, one message per clash) a tree in which two entries of
 * one folder would get the same name in the destination (x.safetensors
 * beside x.df11 would both be x.df11 in the store). Checked for the whole
 * tree before anything is written. skip: a folder not to walk into (the
 * output folder, when it exists inside the source), or NULL.
 * (walk_names.c) */
int walk_check_names(const char *src_root, const struct stat *skip, walk_job *job);

/* Returns the exit code of the first failure; goes on after failures. */
int walk_tree(const char *src_root, const char *dst_root, walk_job *job);

/* Handles one regular-file operand. Returns an exit code. */
typedef int (*walk_input_fn)(void *ctx, const char *path);

/* Every command-line operand in turn: a folder is mirrored into out_dir
 * with walk_tree (a usage error when out_dir is NULL), a regular file goes
 * to file, anything else is refused. Goes on after failures and returns the
 * exit code of the first. */
int walk_inputs(char *const *inputs, int n, const char *out_dir, walk_job *job,
                walk_input_fn file);

/* Symlinks (walk_links.c). */
typedef enum {
    LINK_KEEP,      /* resolves inside the tree: recreate, text kept */
    LINK_REWRITE,   /* resolves inside, but the text leaves the tree
                       (absolute, or climbs out and back in) */
    LINK_OUTSIDE,   /* resolves outside the tree */
    LINK_DANGLING   /* does not resolve (missing, loop, no access) */
} link_class;

/* Classifies the link at path (text: its target text) that will sit depth
 * folders below the destination root; root_real is the source root's real
 * path. text_ok: the link lies in the source tree itself (not in a followed
 * folder), so its relative text can be kept. On LINK_REWRITE *rewrite is
 * the relative target to write (malloc'd); on LINK_DANGLING *err is the
 * errno of the failed resolution. */
link_class walk_classify_link(const char *path, const char *text, int depth,
                              int text_ok, const char *root_real, char **rewrite,
                              int *err);

/* The target text of the symlink at path, malloc'd; NULL with errno set. */
char *walk_read_link(const char *path);

#endif
