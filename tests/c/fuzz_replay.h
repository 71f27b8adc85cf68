/*
 * fuzz_replay.h - the corpus replay loop shared by codec_fuzz_replay and
 * store_fuzz_replay: every file of tests/fuzz/corpus/<name>/ goes through
 * its fuzz target, built without libFuzzer (DF11_REPLAY), so seeds and
 * past crashers stay regression tests in the normal and ASan runs. A
 * target aborts on a broken invariant, which fails the program.
 */
#ifndef DF11_FUZZ_REPLAY_H
#define DF11_FUZZ_REPLAY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static uint8_t *replay_read(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n ? n : 1);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (buf && got != n) {
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

static int replay(const char *root, const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", root, name);
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL fuzz_replay.%s: no corpus at %s\n", name, dir);
        return 1;
    }
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t n = 0;
        uint8_t *buf = replay_read(path, &n);
        if (!buf) continue;
        printf("# %s: %s (%zu bytes)\n", name, de->d_name, n);
        fflush(stdout);
        fn(buf, n);
        free(buf);
        files++;
    }
    closedir(d);
    if (!files) {
        printf("FAIL fuzz_replay.%s: corpus %s is empty\n", name, dir);
        return 1;
    }
    printf("PASS fuzz_replay.%s (%u inputs)\n", name, files);
    return 0;
}

#endif
