/*
 * Folder mode: mirrors a source tree into a destination tree. Folders are
 * created, symlinks are recreated with the same target text (never followed,
 * so loops cannot happen and links into the tree keep working once df11fs
 * shows the .df11 files under their original names), and each regular file
 * is handed to a callback that decides what to write.
 */
#ifndef DF11_CLI_WALK_H
#define DF11_CLI_WALK_H

#include <sys/stat.h>

/* src: path of the regular file; dst_dir: existing destination folder;
 * name: the entry name. The callback opens src under input.h's rule.
 * Returns an exit code. */
typedef int (*walk_file_fn)(void *ctx, const char *src, const char *dst_dir,
                            const char *name);

/* How the command renames regular files: NAME+from becomes NAME+to
 * (".safetensors" -> ".df11" for compress, the reverse for decompress). */
typedef struct {
    const char *from, *to;
} walk_rename;

/* Refuses (exit 3, one message per clash) a tree in which a renamed file
 * would land on the name of another entry of its folder: x.safetensors and
 * x.df11 side by side would both become x.df11 in the store. Checked for
 * the whole tree before anything is written. skip: a folder not to walk
 * into (the output folder, when it exists inside the source), or NULL.
 * (walk_names.c) */
int walk_check_names(const char *src_root, const struct stat *skip, const walk_rename *rn);

/* Returns the exit code of the first failure; goes on after failures. */
int walk_tree(const char *src_root, const char *dst_root, int force,
              const walk_rename *rn, walk_file_fn fn, void *ctx);

/* Handles one regular-file operand. Returns an exit code. */
typedef int (*walk_input_fn)(void *ctx, const char *path);

/* Every command-line operand in turn: a folder is mirrored into out_dir
 * with walk_tree and entry (a usage error when out_dir is NULL), a regular
 * file goes to file, anything else is refused. Goes on after failures and
 * returns the exit code of the first. */
int walk_inputs(char *const *inputs, int n, const char *out_dir, int force,
                const walk_rename *rn, walk_file_fn entry, walk_input_fn file,
                void *ctx);

#endif
