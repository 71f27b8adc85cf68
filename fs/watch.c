/* watch.c - notices backing files replaced, changed or removed while
 * mounted, even when nobody opens them again, and drops the kernel's cached
 * name for them so the next path lookup reaches the new version (a new
 * inode with an empty page cache; handles opened before keep the old inode
 * and its pages, which still hold only the old contents). It runs on its
 * own thread rather than in a handler: the kernel takes the directory lock
 * to invalidate a name, which a lookup waiting for our reply may hold. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "fuse_front.h"

static pthread_t watch_thread;
static int watch_running, watch_stop_flag;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;

static void *watch_main(void *arg)
{
    (void)arg;
    time_t last_refresh = time(NULL);
    pthread_mutex_lock(&watch_mu);
    while (!watch_stop_flag) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += fs_cfg.check_interval;
        while (!watch_stop_flag && pthread_cond_timedwait(&watch_cv, &watch_mu, &t) != ETIMEDOUT)
            ;
        if (watch_stop_flag)
            break;
        pthread_mutex_unlock(&watch_mu);
        /* A remote store: poll its manifest every `refresh` seconds (a
         * conditional GET); a change shows up below as changed entries. */
        if (remote_active() && fs_cfg.refresh) {
            time_t now = time(NULL);
            if (now - last_refresh >= (time_t)fs_cfg.refresh) {
                last_refresh = now;
                remote_refresh();
            }
        }
        struct changed *ch;
        size_t n = inode_check_changes(&ch);
        for (size_t i = 0; i < n; i++) {
            fuse_lowlevel_notify_inval_entry(fs_session, ch[i].parent, ch[i].name,
                                             strlen(ch[i].name));
            free(ch[i].name);
        }
        free(ch);
        pthread_mutex_lock(&watch_mu);
    }
    pthread_mutex_unlock(&watch_mu);
    return NULL;
}

int watch_start(void)
{
    if (fs_cfg.check_interval == 0 && fs_cfg.refresh)
        fs_cfg.check_interval = fs_cfg.refresh < 5 ? fs_cfg.refresh : 5;
    if (fs_cfg.check_interval == 0)
        return 0;
    int rc = pthread_create(&watch_thread, NULL, watch_main, NULL);
    if (rc)
        return -rc;
    watch_running = 1;
    return 0;
}

void watch_stop(void)
{
    if (!watch_running)
        return;
    pthread_mutex_lock(&watch_mu);
    watch_stop_flag = 1;
    pthread_cond_broadcast(&watch_cv);
    pthread_mutex_unlock(&watch_mu);
    pthread_join(watch_thread, NULL);
    watch_running = 0;
}
