/*
 * encoder_changes.c - an input that changes while it is compressed must
 * give DF11_E_CHANGED (message naming the input) and no usable output;
 * an input left alone must round-trip bit for bit, also through a pipe.
 *
 * The change is made from the progress callback, which runs on the
 * encoder's writing thread during the passes, at one of three moments:
 *   PASS1_FIRST  the first report of pass 1 (chunk 0 has been read;
 *                workers may have read more, so what is changed then is
 *                in chunk 0)
 *   PASS1_END    the last report of pass 1 (done == total/2): everything
 *                has been read once, pass 2 has read nothing
 *   PASS2_END    the last report of pass 2 (done == total): every byte has
 *                been read twice; only the final size check remains
 * The input's size is even, so these reports are exact.
 */
#include "codec_util.h"

#include <pthread.h>

static char *dir;

enum moment { PASS1_FIRST, PASS1_END, PASS2_END };
enum action { NOTHING, GROW, SHRINK, OVERWRITE };

typedef struct {
    const char *path;
    enum moment when;
    enum action what;
    uint64_t size;
    int fired; /* 1 done, -1 the change itself failed */
} mutator;

static bool due(const mutator *m, uint64_t done, uint64_t total)
{
    switch (m->when) {
    case PASS1_FIRST: return done > 0 && done < total / 2;
    case PASS1_END: return done == total / 2;
    default: return done == total;
    }
}

static void mutate(void *ctx, uint64_t done, uint64_t total)
{
    mutator *m = ctx;
    if (m->fired || m->what == NOTHING || !due(m, done, total)) return;
    m->fired = 1;
    int fd = open(m->path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0;
    if (ok && m->what == GROW) {
        const uint8_t more[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        ok = pwrite(fd, more, sizeof more, (off_t)m->size) == (ssize_t)sizeof more;
    } else if (ok && m->what == SHRINK) {
        ok = ftruncate(fd, (off_t)(m->size - 1000)) == 0;
    } else if (ok) {
        /* one byte that pass 1 has certainly read: pass 1 reports half
         * the bytes it has done, so [0, 2*done) is behind it (at the
         * first report, chunk 0: the safetensors header) */
        off_t at = (off_t)(2 * done - 1);
        uint8_t b = 0;
        int rfd = open(m->path, O_RDONLY | O_CLOEXEC);
        ok = rfd >= 0 && pread(rfd, &b, 1, at) == 1;
        if (rfd >= 0) close(rfd);
        b ^= 0x01;
        ok = ok && pwrite(fd, &b, 1, at) == 1;
    }
    if (fd >= 0) close(fd);
    if (!ok) m->fired = -1;
}

static char *path_in(const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p) sprintf(p, "%s/%s", dir, name);
    return p;
}

/* A BF16 tensor over three chunks and an F32 one: five chunks in all. */
static uint8_t *make_input(tu_rng *rng, const char *path, size_t *size)
{
    size_t nb = 300000, nf = 50000;
    uint8_t *b = malloc(2 * nb), *f = malloc(4 * nf), *bytes = NULL;
    if (b && f) {
        tu_fill_bf16(rng, b, nb, 0.02);
        tu_fill_f32(rng, f, nf, 0.5);
        tu_tensor t[2] = {{"w", "BF16", nb, b, 2 * nb}, {"s", "F32", nf, f, 4 * nf}};
        bytes = tu_write_safetensors(path, t, 2, size);
    }
    free(b);
    free(f);
    return bytes;
}

/* The whole original through df11_pread, compared with memcmp. */
static bool round_trips(const char *df11_path, const uint8_t *orig, size_t size)
{
    df11_reader *r = NULL;
    df11_error err;
    uint8_t *back = malloc(size);
    bool ok = back && df11_open(df11_path, &r, &err) == DF11_OK &&
              df11_original_size(r) == size && df11_pread(r, back, size, 0, &err) == DF11_OK &&
              memcmp(back, orig, size) == 0 && df11_verify(r, 1, NULL, NULL, &err) == DF11_OK;
    df11_close(r);
    free(back);
    return ok;
}

static const char *moment_name[] = {"pass1_first", "pass1_end", "pass2_end"};
static const char *action_name[] = {"unchanged", "grow", "shrink", "overwrite"};

/* One case through df11_encode_file (out_path must be gone on failure) and
 * one through df11_encode_fd into a file we own (what it leaves must not
 * open as a .df11). */
static void run_case(tu_rng *rng, enum moment when, enum action what, bool via_fd)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s_%s", action_name[what], moment_name[when],
             via_fd ? "fd" : "file");
    char *in = path_in("in.safetensors"), *out = path_in("out.df11");
    size_t size = 0;
    uint8_t *orig = in && out ? make_input(rng, in, &size) : NULL;
    if (!orig || size % 2) {
        tu_result(false, name, "setup failed");
        goto done;
    }
    mutator m = {in, when, what, size, 0};
    df11_encode_options o;
    df11_encode_options_default(&o);
    o.threads = 2;
    o.progress = mutate;
    o.progress_ctx = &m;
    df11_error err = {0};
    df11_status s;
    if (via_fd) {
        int ifd = open(in, O_RDONLY | O_CLOEXEC);
        int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        s = ifd >= 0 && ofd >= 0 ? df11_encode_fd(ifd, in, ofd, out, &o, &err) : DF11_E_IO;
        if (ifd >= 0) close(ifd);
        if (ofd >= 0) close(ofd);
    } else {
        s = df11_encode_file(in, out, &o, &err);
    }
    if (m.fired < 0) {
        tu_result(false, name, "the change itself failed");
    } else if (what == NOTHING) {
        tu_result(s == DF11_OK && round_trips(out, orig, size), name,
                  "status %s (%s), or the output does not round-trip", df11_status_name(s),
                  err.message);
    } else {
        bool gone = access(out, F_OK) != 0;
        df11_reader *r = NULL;
        df11_error e2;
        bool opens = !gone && df11_open(out, &r, &e2) == DF11_OK;
        df11_close(r);
        tu_result(m.fired == 1 && s == DF11_E_CHANGED && strstr(err.message, in) &&
                      (via_fd ? !opens : gone),
                  name, "fired %d, status %s (%s), output %s", m.fired, df11_status_name(s),
                  err.message, gone ? "removed" : opens ? "opens as a .df11" : "left, unreadable");
    }
done:
    if (in) unlink(in);
    if (out) unlink(out);
    free(in), free(out), free(orig);
}

typedef struct {
    int fd;
    uint8_t *buf;
    size_t len, cap;
} sink;

static void *drain(void *p)
{
    sink *k = p;
    for (;;) {
        if (k->len == k->cap) {
            uint8_t *b = realloc(k->buf, k->cap = k->cap * 2 + 65536);
            if (!b) break;
            k->buf = b;
        }
        ssize_t n = read(k->fd, k->buf + k->len, k->cap - k->len);
        if (n <= 0) break;
        k->len += (size_t)n;
    }
    return NULL;
}

/* df11_encode_fd into a pipe gives the same bytes as into a file. */
static void test_pipe(tu_rng *rng)
{
    char *in = path_in("pipe.safetensors"), *out = path_in("pipe.df11");
    size_t size = 0, flen = 0;
    uint8_t *orig = in && out ? make_input(rng, in, &size) : NULL;
    df11_error err = {0};
    int p[2] = {-1, -1};
    sink k = {0};
    pthread_t t;
    bool ok = orig && df11_encode_file(in, out, NULL, &err) == DF11_OK && pipe(p) == 0;
    if (ok) {
        k.fd = p[0];
        ok = pthread_create(&t, NULL, drain, &k) == 0;
        if (ok) {
            int ifd = open(in, O_RDONLY | O_CLOEXEC);
            df11_status s = df11_encode_fd(ifd, in, p[1], "pipe", NULL, &err);
            close(p[1]);
            p[1] = -1;
            pthread_join(t, NULL);
            if (ifd >= 0) close(ifd);
            uint8_t *f = tu_read_file(out, &flen);
            ok = s == DF11_OK && f && flen == k.len && memcmp(f, k.buf, flen) == 0 &&
                 round_trips(out, orig, size);
            free(f);
        }
    }
    tu_result(ok, "pipe_output_matches_file", "%s (pipe %zu bytes, file %zu)", err.message, k.len,
              flen);
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) close(p[i]);
    if (in) unlink(in);
    if (out) unlink(out);
    free(in), free(out), free(orig), free(k.buf);
}

int main(void)
{
    tu_rng rng = {tu_seed("encoder_changes")};
    dir = tu_tempdir();
    if (!dir) {
        printf("FAIL encoder_changes_tempdir\n");
        return 1;
    }
    for (int fd = 0; fd < 2; fd++) {
        run_case(&rng, PASS2_END, NOTHING, fd);
        for (enum moment w = PASS1_FIRST; w <= PASS2_END; w++) {
            run_case(&rng, w, GROW, fd);
            run_case(&rng, w, SHRINK, fd);
        }
        /* after pass 2's last read a change is after the fact: not a case */
        run_case(&rng, PASS1_FIRST, OVERWRITE, fd);
        run_case(&rng, PASS1_END, OVERWRITE, fd);
    }
    test_pipe(&rng);
    rmdir(dir);
    free(dir);
    return tu_failures ? 1 : 0;
}
