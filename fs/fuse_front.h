/* fuse_front.h - what the FUSE-facing files (main.c, ops.c, watch.c) share. */
#ifndef DF11FS_FUSE_FRONT_H
#define DF11FS_FUSE_FRONT_H

/* 3.12: the loop configuration API (max_threads), so libfuse does not
 * warn about an unset max_threads at every start. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops fs_ops;
extern struct fuse_session *fs_session;

/* Frees the handles whose RELEASE never came; after the session loop. */
void ops_release_all(void);
int watch_start(void);
void watch_stop(void);

#endif
