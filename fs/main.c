/* main.c - df11fs: options, mounting and the session loop.
 *
 *   df11fs [options] STORE MOUNTPOINT
 *
 * Mounts the folder STORE read-only at MOUNTPOINT, showing every NAME.df11
 * as the original NAME.safetensors (doc/FS.md). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "fuse_front.h"

struct fuse_session *fs_session;

#define DEFAULT_CACHE_SIZE "256M"
#define DEFAULT_PREFETCH 16
#define DEFAULT_GPU_MIN_CHUNKS 4
#define DEFAULT_CHECK_INTERVAL 1
#define DEFAULT_TIMEOUT 86400.0
#define DEFAULT_READAHEAD_KB 4096

struct cli {
    char *store;
    char *cache_size;
    char *gpu;
    unsigned stats_interval, check_interval, prefetch, workers, gpu_min_chunks, readahead_kb;
    double attr_timeout, timeout;
    char *cache_dir, *cache_dir_size, *s3_endpoint, *s3_region, *proxy, *ca_file;
    unsigned connections, refresh;
    int insecure;
    int help, version;
};

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, f) { t, offsetof(struct cli, f), 0 }
static const struct fuse_opt cli_spec[] = {
    OPT("cache_size=%s", cache_size),
    OPT("gpu=%s", gpu),
    OPT("stats_interval=%u", stats_interval),
    OPT("check_interval=%u", check_interval),
    OPT("prefetch=%u", prefetch),
    OPT("workers=%u", workers),
    OPT("gpu_min_chunks=%u", gpu_min_chunks),
    OPT("attr_timeout=%lf", attr_timeout),
    OPT("timeout=%lf", timeout),
    OPT("cache_dir=%s", cache_dir),
    OPT("cache_dir_size=%s", cache_dir_size),
    OPT("connections=%u", connections),
    OPT("refresh=%u", refresh),
    OPT("s3_endpoint=%s", s3_endpoint),
    OPT("s3_region=%s", s3_region),
    OPT("proxy=%s", proxy),
    OPT("ca_file=%s", ca_file),
    OPT("insecure", insecure),
    OPT("readahead_kb=%u", readahead_kb),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END
};

static int cli_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    (void)outargs;
    struct cli *c = data;
    switch (key) {
    case FUSE_OPT_KEY_NONOPT:
        if (!c->store) {
            c->store = strdup(arg);
            return 0;       /* consumed; the next one is the mountpoint */
        }
        return 1;
    case KEY_HELP:
        c->help = 1;
        return 0;
    case KEY_VERSION:
        c->version = 1;
        return 0;
    default:
        return 1;
    }
}

static void usage(const char *prog)
{
    printf(
"usage: %s [options] STORE MOUNTPOINT\n"
"\n"
"Mounts STORE read-only at MOUNTPOINT. Every NAME.df11 appears as\n"
"NAME.safetensors with the bytes of the original file; everything else is\n"
"mirrored unchanged. Counters: MOUNTPOINT/" FS_STATS_NAME " (see doc/FS.md).\n"
"STORE is a local folder, http://HOST/PREFIX/, https://HOST/PREFIX/ or\n"
"s3://BUCKET/PREFIX (a store with a manifest: df11 manifest STORE).\n"
"\n"
"df11fs options:\n"
"    -o cache_size=SIZE      decoded-chunk cache budget, shared by all files;\n"
"                            K/M/G suffixes (default " DEFAULT_CACHE_SIZE ", capped at 1/4 of RAM)\n"
"    -o gpu=auto|on|off      auto: the faster path for reads, today the CPU\n"
"                            (measured, doc/FS.md \"GPU\"; one log line); on: large\n"
"                            reads on the GPU, refuse to mount without one;\n"
"                            off: CPU only (default auto)\n"
"    -o gpu_min_chunks=N     reads touching at least N chunks are decoded as one\n"
"                            GPU batch (default %d)\n"
"    -o prefetch=N           chunks decoded ahead of a sequential reader, 0 = off\n"
"                            (default %d)\n"
"    -o workers=N            prefetch worker threads (default: online CPUs, at most 8)\n"
"    -o stats_interval=SECS  log the counters every SECS seconds, 0 = never\n"
"                            (default 0)\n"
"    -o check_interval=SECS  look for replaced backing files every SECS seconds\n"
"                            and drop their cached pages, 0 = only on open\n"
"                            (default %d)\n"
"    -o attr_timeout=SECS    entry and attribute cache timeout (default %.0f)\n"
"\n"
"remote stores (and local ones read through a node cache):\n"
"    -o cache_dir=DIR        keep fetched (compressed) blocks on disk in DIR,\n"
"                            shared by every df11fs on the host; survives restarts\n"
"    -o cache_dir_size=SIZE  limit of cache_dir (default: 1/4 of its file\n"
"                            system, 1 GiB to 100 GiB)\n"
"    -o connections=N        parallel keep-alive connections (default 8)\n"
"    -o timeout=SECS         per-read deadline, retries included; past it the\n"
"                            read gets EIO (default 60)\n"
"    -o refresh=SECS         poll the manifest every SECS seconds (default 0: never)\n"
"    -o s3_endpoint=URL      S3 endpoint (default $AWS_ENDPOINT_URL)\n"
"    -o s3_region=NAME       S3 region (default $AWS_REGION or us-east-1)\n"
"    -o proxy=URL            HTTP proxy (default: http_proxy/https_proxy/no_proxy)\n"
"    -o ca_file=FILE         CA certificates for https (default: the system's)\n"
"    -o insecure             do not verify TLS certificates\n"
"    -o readahead_kb=N       kernel readahead of the mount in KiB, written to\n"
"                            /sys/class/bdi/0:N/read_ahead_kb (needs root);\n"
"                            0 = kernel default (default %d)\n"
"\n"
"FUSE options:\n"
"    -h   --help            print this help and exit\n"
"    -V   --version         print versions and exit\n"
"    -f                     stay in the foreground, log to stderr (default: detach\n"
"                            and log to syslog)\n"
"    -d   -o debug          print every FUSE request; implies -f (default off)\n"
"    -s                     single-threaded session loop (default multi-threaded)\n"
"    -o clone_fd            one /dev/fuse descriptor per thread (default off)\n"
"    -o max_idle_threads=N  idle session threads kept (default 10)\n"
"    -o allow_other         let other users access the mount (default: only the\n"
"                            mounting user; needs user_allow_other in /etc/fuse.conf\n"
"                            for non-root)\n"
"    -o auto_unmount        unmount when the daemon dies, even by SIGKILL\n"
"                            (default off)\n"
"    -o fsname=NAME         name in /proc/mounts (default: STORE)\n"
"    -o subtype=NAME        type fuse.NAME in /proc/mounts (default df11fs)\n"
"The mount is always ro and default_permissions (modes from STORE apply).\n"
"Other mount options (nodev, nosuid, noexec, noatime, ...) go to the kernel.\n"
"\n"
"fstab and mount -t fuse.df11fs (after make install, which puts the helper\n"
"/sbin/mount.fuse.df11fs in place):\n"
"    /srv/store  /mnt/model  fuse.df11fs  allow_other,cache_size=1G,nofail  0 0\n",
        prog, DEFAULT_GPU_MIN_CHUNKS, DEFAULT_PREFETCH, DEFAULT_CHECK_INTERVAL, DEFAULT_TIMEOUT,
        DEFAULT_READAHEAD_KB);
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* gpu=on must fail before mounting, but CUDA must not be initialised in a
 * process that later forks to daemonize: ask in a throwaway child. */
static int gpu_probe(char *why, size_t whylen)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        df11_error err;
        df11_status s = df11_gpu_available(&err);
        if (s != DF11_OK && write(p[1], err.message, strlen(err.message)) < 0)
            _exit(2);
        _exit(s == DF11_OK ? 0 : 1);
    }
    close(p[1]);
    ssize_t n = read(p[0], why, whylen - 1);
    why[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void gpu_decide(void)
{
    fs_cfg.gpu_active = 0;
    if (fs_cfg.gpu_mode == FS_GPU_OFF)
        return;
    /* auto takes the faster path, and for reads through FUSE that is the
     * CPU: on an H200 host a cold 1.1 GB read took 1.52x as long with the
     * GPU as without, whose host side (pinned staging, synchronisation,
     * XXH3 of every chunk on the CPU) costs more per 1 MiB batch than the
     * CPU decoder does (doc/FS.md "GPU"). gpu=on still uses it. */
    if (fs_cfg.gpu_mode == FS_GPU_AUTO) {
        fs_log(LOG_INFO, "gpu=auto: decoding on the CPU, faster than the GPU path for FUSE reads; "
                         "-o gpu=on uses the GPU");
        return;
    }
    df11_error err;
    if (df11_gpu_available(&err) == DF11_OK) {
        fs_cfg.gpu_active = 1;
        fs_log(LOG_INFO, "decoding large reads and prefetches on the GPU");
    } else {
        fs_log(LOG_INFO, "no usable GPU (%s); decoding on the CPU", err.message);
    }
}

static uint64_t default_cache_size(void)
{
    uint64_t size;
    parse_size(DEFAULT_CACHE_SIZE, &size);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && (uint64_t)pages * (uint64_t)psz / 4 < size)
        size = (uint64_t)pages * (uint64_t)psz / 4;
    return size;
}

/* A remote STORE (or a local one read through the node cache): opened now,
 * so a 403, a 404 or a bad manifest fail the mount with a clear message. */
static df11store_options store_opts;

static int configure_remote(struct cli *c, const char *prog)
{
    df11store_options_default(&store_opts);
    /* The cache folder is ours to make (its parent must exist). */
    if (c->cache_dir && mkdir(c->cache_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cache_dir %s: %s\n", prog, c->cache_dir, strerror(errno));
        return -1;
    }
    store_opts.cache_dir = c->cache_dir;
    if (c->cache_dir_size && parse_size(c->cache_dir_size, &store_opts.cache_dir_size) != 0) {
        fprintf(stderr, "%s: bad cache_dir_size '%s'\n", prog, c->cache_dir_size);
        return -1;
    }
    store_opts.connections = c->connections;
    store_opts.timeout = c->timeout;
    store_opts.s3_endpoint = c->s3_endpoint;
    store_opts.s3_region = c->s3_region;
    store_opts.proxy = c->proxy;
    store_opts.ca_file = c->ca_file;
    store_opts.insecure = c->insecure;
    fs_cfg.refresh = c->refresh;
    if (c->timeout < 0) {
        fprintf(stderr, "%s: bad timeout\n", prog);
        return -1;
    }
    if (df11store_is_url(c->store))
        fs_cfg.store = strdup(c->store);
    else
        fs_cfg.store = realpath(c->store, NULL);
    if (!fs_cfg.store) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->store, strerror(errno));
        return -1;
    }
    /* df reports the file system of the node cache (or of /). */
    fs_cfg.store_fd = open(c->cache_dir ? c->cache_dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs_cfg.store_fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->cache_dir, strerror(errno));
        return -1;
    }
    char why[DF11_ERROR_MESSAGE_MAX];
    if (remote_open(fs_cfg.store, &store_opts, why, sizeof why) != 0) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return -1;
    }
    return 0;
}

static int configure_store(struct cli *c, const char *prog)
{
    if (df11store_is_url(c->store) || c->cache_dir)
        return configure_remote(c, prog);
    fs_cfg.store = realpath(c->store, NULL);
    if (!fs_cfg.store) {
        fprintf(stderr, "%s: %s: %s\n", prog, c->store, strerror(errno));
        return -1;
    }
    fs_cfg.store_fd = open(fs_cfg.store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs_cfg.store_fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, fs_cfg.store, strerror(errno));
        return -1;
    }
    return 0;
}

static int configure(struct cli *c, const char *prog)
{
    if (!c->store) {
        fprintf(stderr, "%s: missing STORE (try --help)\n", prog);
        return -1;
    }
    if (configure_store(c, prog) != 0)
        return -1;
    fs_cfg.cache_size = default_cache_size();
    if (c->cache_size && parse_size(c->cache_size, &fs_cfg.cache_size) != 0) {
        fprintf(stderr, "%s: bad cache_size '%s'\n", prog, c->cache_size);
        return -1;
    }
    if (!c->gpu || !strcmp(c->gpu, "auto")) {
        fs_cfg.gpu_mode = FS_GPU_AUTO;
    } else if (!strcmp(c->gpu, "on")) {
        fs_cfg.gpu_mode = FS_GPU_ON;
    } else if (!strcmp(c->gpu, "off")) {
        fs_cfg.gpu_mode = FS_GPU_OFF;
    } else {
        fprintf(stderr, "%s: bad gpu '%s' (auto, on or off)\n", prog, c->gpu);
        return -1;
    }
    if (fs_cfg.gpu_mode == FS_GPU_ON) {
        char why[DF11_ERROR_MESSAGE_MAX];
        if (gpu_probe(why, sizeof why) != 0) {
            fprintf(stderr, "%s: gpu=on but no usable GPU: %s\n", prog, *why ? why : "probe failed");
            return -1;
        }
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    fs_cfg.workers = c->workers ? c->workers : (unsigned)(ncpu < 1 ? 1 : ncpu > 8 ? 8 : ncpu);
    fs_cfg.prefetch = c->prefetch;
    fs_cfg.gpu_min_chunks = c->gpu_min_chunks ? c->gpu_min_chunks : 1;
    fs_cfg.stats_interval = c->stats_interval;
    fs_cfg.check_interval = c->check_interval;
    fs_cfg.timeout = c->attr_timeout;
    fs_cfg.readahead_kb = c->readahead_kb;
    if (fs_cfg.timeout < 0) {
        fprintf(stderr, "%s: bad timeout\n", prog);
        return -1;
    }
    return 0;
}

/* Mount mistakes that would otherwise succeed with status 0 and fail
 * later: a mount point that is not a folder (every access EIO), one inside
 * STORE or equal to it (the tree would contain itself: `find` deadlocks
 * the daemon on requests to its own mount), one that already is a df11fs
 * mount (a second one stacks on top). */
static int check_mountpoint(const char *prog, const char *mnt)
{
    struct stat st;
    if (stat(mnt, &st) != 0) {
        fprintf(stderr, "%s: mount point %s: %s\n", prog, mnt, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: mount point %s is not a directory\n", prog, mnt);
        return -1;
    }
    char *real = realpath(mnt, NULL);
    if (!real) {
        fprintf(stderr, "%s: mount point %s: %s\n", prog, mnt, strerror(errno));
        return -1;
    }
    size_t n = strlen(fs_cfg.store);
    int inside = !strcmp(real, fs_cfg.store) || !strcmp(fs_cfg.store, "/") ||
                 (!strncmp(real, fs_cfg.store, n) && real[n] == '/');
    char devno[64];
    int rc = 0;
    if (inside) {
        fprintf(stderr, "%s: mount point %s is %s the store %s; the mount would contain itself\n",
                prog, real, strcmp(real, fs_cfg.store) ? "inside" : "the same folder as", fs_cfg.store);
        rc = -1;
    } else if (fs_mount_devno(real, "fuse.df11fs ", devno, sizeof devno) == 0) {
        fprintf(stderr, "%s: %s is already a df11fs mount; unmount it first (fusermount3 -u %s)\n",
                prog, real, real);
        rc = -1;
    }
    free(real);
    return rc;
}

/* Descriptors: the soft limit is often 1024, the hard one far higher. The
 * daemon holds one per open file plus a few idle ones, so it takes what it
 * may and keeps an eighth of it for idle files (8..256). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t idle = rl.rlim_cur / 8;
    vfile_set_idle_max((unsigned)(idle < 8 ? 8 : idle > 256 ? 256 : idle));
}

/* libfuse stops its worker threads with pthread_cancel, which makes glibc
 * dlopen libgcc_s for the unwinder at that moment; a daemon that has used
 * all its descriptors then aborts on unmount ("libgcc_s.so.1 must be
 * installed for pthread_cancel to work"). Loaded up front, it is there. */
static void preload_unwinder(void)
{
    if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
        fprintf(stderr, "df11fs: warning: cannot preload libgcc_s.so.1: %s\n", dlerror());
}

/* Our own mount's device, so lookups never serve it back to itself. */
static void note_mount_dev(void)
{
    char devno[64];
    unsigned maj, min;
    if (fs_mount_devno(fs_cfg.mountpoint, "fuse", devno, sizeof devno) == 0 &&
        sscanf(devno, "%u:%u", &maj, &min) == 2)
        fs_cfg.mount_dev = makedev(maj, min);
}

/* Options every df11fs mount gets, after the user's so they win. */
static int add_fixed_opts(struct fuse_args *args)
{
    char *o = NULL;
    int rc = fuse_opt_add_opt(&o, "ro") || fuse_opt_add_opt(&o, "default_permissions") ||
             fuse_opt_add_opt(&o, "subtype=df11fs");
    int has_fsname = 0;
    for (int i = 0; i < args->argc; i++)
        if (strstr(args->argv[i], "fsname="))
            has_fsname = 1;
    if (!rc && !has_fsname) {
        char *fsname = NULL;
        if (asprintf(&fsname, "fsname=%s", fs_cfg.store) < 0)
            rc = -1;
        else
            rc = fuse_opt_add_opt_escaped(&o, fsname);
        free(fsname);
    }
    if (!rc)
        rc = fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, o);
    free(o);
    return rc ? -1 : 0;
}

static int reopen_store;

static int run_session(struct fuse_cmdline_opts *opts)
{
    int ret = 1;
    if (fuse_daemonize(opts->foreground) != 0)
        return 1;
    fs_log_init(!opts->foreground);
    if (reopen_store) {
        /* Closed before fork (its threads would not survive it), opened
         * again in the daemon: from the node cache if the origin went away
         * in between. */
        char why[DF11_ERROR_MESSAGE_MAX];
        if (remote_open(fs_cfg.store, &store_opts, why, sizeof why) != 0) {
            fs_log(LOG_ERR, "cannot open the store again after detaching: %s", why);
            return 1;
        }
    }
    gpu_decide();
    /* One budget for both caches: decode tables (about 33 KB per distinct
     * code, shared by every file; a file of 20,000 small tensors once took
     * 630 MB of them) get an eighth of cache_size, 1 to 64 MiB, and
     * decoded chunks the rest. */
    uint64_t tables = fs_cfg.cache_size / 8;
    tables = tables < (1u << 20) ? (1u << 20) : tables > (64u << 20) ? (64u << 20) : tables;
    if (tables > fs_cfg.cache_size / 2)
        tables = fs_cfg.cache_size / 2;
    df11_set_table_budget(tables);
    int rc = cache_init(fs_cfg.cache_size - tables);
    if (!rc)
        rc = prefetch_start(fs_cfg.workers);
    if (!rc)
        rc = fs_stats_start();
    if (!rc)
        rc = watch_start();
    if (rc) {
        fs_log(LOG_ERR, "cannot start: %s", strerror(-rc));
    } else {
        if (opts->singlethread) {
            rc = fuse_session_loop(fs_session);
        } else {
            struct fuse_loop_config *cfg = fuse_loop_cfg_create();
            if (!cfg) {
                rc = -ENOMEM;
            } else {
                fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts->clone_fd);
                /* UINT_MAX means "not given"; passed on, libfuse 3.14
                 * prints "Ignoring invalid max threads value" every start. */
                if (opts->max_idle_threads != UINT_MAX)
                    fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
                if (opts->max_threads != UINT_MAX)
                    fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
                rc = fuse_session_loop_mt(fs_session, cfg);
                fuse_loop_cfg_destroy(cfg);
            }
        }
        /* An aborted connection (/sys/fs/fuse/connections/N/abort) ends the
         * mount as an unmount does; there is nothing left to serve. */
        if (rc == -ECONNABORTED)
            fs_log(LOG_INFO, "the kernel aborted the connection; exiting");
        ret = rc < 0 && rc != -ECONNABORTED;
    }
    watch_stop();
    fs_stats_stop();
    prefetch_stop();
    ops_release_all();
    return ret;
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct cli c = { .prefetch = DEFAULT_PREFETCH, .gpu_min_chunks = DEFAULT_GPU_MIN_CHUNKS,
                     .check_interval = DEFAULT_CHECK_INTERVAL, .attr_timeout = DEFAULT_TIMEOUT,
                     .readahead_kb = DEFAULT_READAHEAD_KB };
    struct fuse_cmdline_opts opts = { 0 };
    int ret = 1;
    const char *prog = argv[0];
    fs_cfg.store_fd = -1;

    /* Decoded chunks are 64 KiB..1 MiB; serving them from mmap keeps the
     * daemon's footprint close to the cache budget after eviction. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    if (fuse_opt_parse(&args, &c, cli_spec, cli_proc) != 0)
        goto out;
    if (c.help) {
        usage(prog);
        ret = 0;
        goto out;
    }
    if (c.version) {
        printf("df11fs (libdf11 %s, libfuse %s)\n", df11_version(), fuse_pkgversion());
        ret = 0;
        goto out;
    }
    if (fuse_parse_cmdline(&args, &opts) != 0)
        goto out;
    if (!opts.mountpoint) {
        fprintf(stderr, "%s: missing MOUNTPOINT (try --help)\n", prog);
        goto out;
    }
    if (configure(&c, prog) != 0 || add_fixed_opts(&args) != 0)
        goto out;
    if (inode_init() != 0) {
        fprintf(stderr, "%s: cannot read %s\n", prog, fs_cfg.store);
        goto out;
    }
    if (check_mountpoint(prog, opts.mountpoint) != 0)
        goto out_inodes;
    raise_nofile();
    preload_unwinder();
    fs_cfg.foreground = opts.foreground;
    fs_cfg.mountpoint = realpath(opts.mountpoint, NULL);
    fs_session = fuse_session_new(&args, &fs_ops, sizeof fs_ops, NULL);
    if (!fs_session)
        goto out_inodes;
    /* A shell starts background jobs with SIGINT ignored, and libfuse only
     * takes over signals left at their default: restore INT and TERM so the
     * daemon always exits cleanly on them (HUP stays as given, for nohup). */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (fuse_set_signal_handlers(fs_session) != 0)
        goto out_session;
    if (fuse_session_mount(fs_session, opts.mountpoint) != 0)
        goto out_signals;
    note_mount_dev();
    if (remote_active() && !opts.foreground) {
        remote_close();
        reopen_store = 1;
    }
    ret = run_session(&opts);
    fuse_session_unmount(fs_session);
    vfile_drop_idle();
out_signals:
    fuse_remove_signal_handlers(fs_session);
out_session:
    fuse_session_destroy(fs_session);
out_inodes:
    inode_destroy();
    cache_destroy();
out:
    remote_close();
    if (fs_cfg.store_fd >= 0)
        close(fs_cfg.store_fd);
    free(fs_cfg.store);
    free(fs_cfg.mountpoint);
    free(opts.mountpoint);
    free(c.store);
    free(c.cache_size);
    free(c.cache_dir);
    free(c.cache_dir_size);
    free(c.s3_endpoint);
    free(c.s3_region);
    free(c.proxy);
    free(c.ca_file);
    free(c.gpu);
    fuse_opt_free_args(&args);
    return ret;
}
