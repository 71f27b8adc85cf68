/* fsx.c - a read-only random-read exerciser for df11fs, in the spirit of
 * xfstests' fsx: seeded random pread and mmap (MAP_SHARED and MAP_PRIVATE)
 * reads at odd offsets and lengths, biased toward chunk boundaries and EOF,
 * each compared against the original file held in memory.
 *
 *   fsx [-S seed] [-N ops] [-t threads] [-m modes] [-c chunk] FILE ORIGINAL
 *
 * modes: any of p (pread), s (MAP_SHARED), P (MAP_PRIVATE, with a private
 * write that must not reach the file); default "psP". -D N drops the file's
 * unmapped pages from the page cache (fadvise DONTNEED) before one read in N
 * (default 16, 0 never), so reads keep reaching the daemon. Exit 0 when every
 * read matched, 1 on a mismatch (with the seed and a replay command), 2 on
 * usage or setup errors. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *path, *orig_path, *modes = "psP";
static uint8_t *orig;
static uint64_t size;
static uint64_t seed, nops = 2000;
static unsigned nthreads = 1;
static uint64_t chunk = 1u << 16;
static unsigned drop_every = 16;   /* boundaries at every multiple of this */
static int failed;

static uint64_t rnd(uint64_t *s)    /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t pick_off(uint64_t *s)
{
    switch (rnd(s) % 4) {
    case 0: return rnd(s) % (size + 1);
    case 1: {                       /* just around a chunk boundary */
        uint64_t b = (rnd(s) % (size / chunk + 1)) * chunk;
        uint64_t d = rnd(s) % 64;
        return rnd(s) & 1 ? b + d : (b > d ? b - d : 0);
    }
    case 2: {                       /* near EOF */
        uint64_t d = rnd(s) % 8192;
        return size > d ? size - d : 0;
    }
    default: return (rnd(s) % (size / 4096 + 1)) * 4096 + rnd(s) % 3;
    }
}

static uint64_t pick_len(uint64_t *s)
{
    switch (rnd(s) % 4) {
    case 0: return 1 + rnd(s) % 64;
    case 1: return 1 + rnd(s) % 8192;
    case 2: return 1 + rnd(s) % (3 * chunk);
    default: return 1 + rnd(s) % (2u << 20);
    }
}

static void report(unsigned tid, uint64_t op, const char *what, uint64_t off, uint64_t len,
                   const uint8_t *got, uint64_t tseed)
{
    uint64_t bad = 0;
    if (got)
        while (bad < len && got[bad] == orig[off + bad])
            bad++;
    fprintf(stderr, "fsx: FAIL %s: thread %u op %" PRIu64 " off %" PRIu64 " len %" PRIu64
            " (first difference at file offset %" PRIu64 ")\n",
            what, tid, op, off, len, off + bad);
    fprintf(stderr, "fsx: seed %" PRIu64 "; replay: fsx -S %" PRIu64 " -N %" PRIu64
            " -t 1 -m %s -c %" PRIu64 " -D %u %s %s\n", tseed, tseed, op + 1, modes, chunk,
            drop_every, path, orig_path);
    __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
}

struct targ { unsigned tid; };

static void *run(void *arg)
{
    unsigned tid = ((struct targ *)arg)->tid;
    uint64_t tseed = seed + tid, s = tseed;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "fsx: %s: %s\n", path, strerror(errno));
        __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    uint8_t *shared = NULL, *priv = NULL;
    if (size && strchr(modes, 's')) {
        shared = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (shared == MAP_FAILED) { perror("fsx: mmap MAP_SHARED"); shared = NULL; __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST); }
    }
    if (size && strchr(modes, 'P')) {
        priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (priv == MAP_FAILED) { perror("fsx: mmap MAP_PRIVATE"); priv = NULL; __atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST); }
    }
    uint8_t *buf = malloc((2u << 20) + 4 * chunk + 1);
    size_t nm = strlen(modes);
    for (uint64_t op = 0; op < nops && !__atomic_load_n(&failed, __ATOMIC_SEQ_CST); op++) {
        char m = modes[rnd(&s) % nm];
        uint64_t off = pick_off(&s), len = pick_len(&s);
        if (drop_every && rnd(&s) % drop_every == 0)
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (m == 'p') {
            ssize_t n = pread(fd, buf, len, (off_t)off);
            uint64_t want = off >= size ? 0 : (len < size - off ? len : size - off);
            if (n < 0 || (uint64_t)n != want) {
                fprintf(stderr, "fsx: pread returned %zd (%s), expected %" PRIu64 "\n", n,
                        n < 0 ? strerror(errno) : "short", want);
                report(tid, op, "pread size", off, len, NULL, tseed);
            } else if (want && memcmp(buf, orig + off, want) != 0) {
                report(tid, op, "pread data", off, want, buf, tseed);
            }
            continue;
        }
        if (size == 0 || off >= size)
            continue;
        if (len > size - off)
            len = size - off;
        uint8_t *map = m == 's' ? shared : priv;
        if (!map)
            continue;
        if (memcmp(map + off, orig + off, len) != 0) {
            report(tid, op, m == 's' ? "mmap shared data" : "mmap private data", off, len, map + off, tseed);
        } else if (m == 'P' && (rnd(&s) & 3) == 0) {
            /* A private write stays private: the mapping changes, the file
             * (read again through pread) does not. */
            map[off] ^= 0xFF;
            ssize_t n = pread(fd, buf, 1, (off_t)off);
            if (n != 1 || buf[0] != orig[off])
                report(tid, op, "MAP_PRIVATE write leaked", off, 1, NULL, tseed);
            map[off] ^= 0xFF;
        }
    }
    if (shared) munmap(shared, size);
    if (priv) munmap(priv, size);
    free(buf);
    close(fd);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: fsx [-S seed] [-N ops] [-t threads] [-m psP] [-c chunk] [-D n] FILE ORIGINAL\n");
    return 2;
}

int main(int argc, char **argv)
{
    int c;
    seed = (uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
    while ((c = getopt(argc, argv, "S:N:t:m:c:D:")) != -1) {
        switch (c) {
        case 'S': seed = strtoull(optarg, NULL, 0); break;
        case 'N': nops = strtoull(optarg, NULL, 0); break;
        case 't': nthreads = (unsigned)atoi(optarg); break;
        case 'm': modes = optarg; break;
        case 'c': chunk = strtoull(optarg, NULL, 0); break;
        case 'D': drop_every = (unsigned)atoi(optarg); break;
        default: return usage();
        }
    }
    if (argc - optind != 2 || nthreads < 1 || chunk < 1 || !*modes || strspn(modes, "psP") != strlen(modes))
        return usage();
    path = argv[optind];
    orig_path = argv[optind + 1];
    int fd = open(orig_path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "fsx: %s: %s\n", orig_path, strerror(errno));
        return 2;
    }
    size = (uint64_t)st.st_size;
    orig = malloc(size + 1);
    for (uint64_t got = 0; got < size;) {
        ssize_t n = pread(fd, orig + got, size - got, (off_t)got);
        if (n <= 0) {
            fprintf(stderr, "fsx: reading %s failed\n", orig_path);
            return 2;
        }
        got += (uint64_t)n;
    }
    close(fd);
    /* Sizes first: stat and lseek(SEEK_END) must agree with the original. */
    int vfd = open(path, O_RDONLY);
    if (vfd < 0 || fstat(vfd, &st) != 0) {
        fprintf(stderr, "fsx: %s: %s\n", path, strerror(errno));
        return 1;
    }
    off_t end = lseek(vfd, 0, SEEK_END);
    close(vfd);
    if ((uint64_t)st.st_size != size || end != (off_t)size) {
        fprintf(stderr, "fsx: FAIL size: stat %lld, SEEK_END %lld, original %" PRIu64 "\n",
                (long long)st.st_size, (long long)end, size);
        return 1;
    }
    printf("fsx: seed %" PRIu64 ", %" PRIu64 " ops x %u threads, modes %s, %s\n",
           seed, nops, nthreads, modes, path);
    pthread_t *th = calloc(nthreads, sizeof *th);
    struct targ *ta = calloc(nthreads, sizeof *ta);
    for (unsigned i = 0; i < nthreads; i++) {
        ta[i].tid = i;
        if (pthread_create(&th[i], NULL, run, &ta[i]) != 0) {
            fprintf(stderr, "fsx: pthread_create failed\n");
            return 2;
        }
    }
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(ta);
    free(orig);
    return failed ? 1 : 0;
}
