/* watch.c - notices backing files replaced or changed while mounted, even
 * when nobody opens them again, and drops the kernel's cached pages and
 * attributes for them. It runs on its own thread rather than in a handler:
 * invalidating pages waits for page locks that in-flight reads hold, and
 * those reads need the session loop to make progress. */
#include <errno.h>
#include <stdlib.h>
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
        uint64_t *inos;
        size_t n = inode_check_changes(&inos);
        for (size_t i = 0; i < n; i++)
            fuse_lowlevel_notify_inval_inode(fs_session, inos[i], 0, 0);
        free(inos);
        pthread_mutex_lock(&watch_mu);
    }
    pthread_mutex_unlock(&watch_mu);
    return NULL;
}

int watch_start(void)
{
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
