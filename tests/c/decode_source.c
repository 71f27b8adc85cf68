/* decode_source: a reader over a custom df11_source that misbehaves in the
 * ways df11.h allows - short reads of random length, DF11_E_AGAIN a few
 * times, DF11_E_AGAIN forever, a hard DF11_E_IO at one offset - gives the
 * same bytes as df11_open of the real file, or the documented error, and
 * never hangs; close is called exactly once. */
#include "codec_util.h"
#include "decompress/reader.h"

#include <pthread.h>

typedef enum { SHORT_READS, AGAIN_SOME, AGAIN_FOREVER, EIO_AT } mode;

typedef struct {
    const uint8_t *data;
    uint64_t size;
    mode m;
    uint64_t bad_off;       /* EIO_AT: reads touching this byte fail */
    unsigned closes;        /* atomic */
    uint64_t calls, agains; /* atomic */
} memsrc;

static _Thread_local uint64_t rng_state;
static _Thread_local unsigned again_streak;

static uint64_t rnd(void)
{
    tu_rng g = { rng_state };
    uint64_t v = tu_next(&g);
    rng_state = g.s;
    return v;
}

static df11_status mem_read_at(void *ctx, void *buf, size_t len, uint64_t off, size_t *got,
                               df11_error *err)
{
    memsrc *s = ctx;
    __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
    if (!rng_state) rng_state = (uint64_t)(uintptr_t)&again_streak | 1;
    if (s->m == AGAIN_FOREVER || (s->m == AGAIN_SOME && again_streak < 3)) {
        again_streak++;
        __atomic_add_fetch(&s->agains, 1, __ATOMIC_RELAXED);
        err->code = DF11_E_AGAIN;
        snprintf(err->message, sizeof err->message, "memsrc: busy at offset %llu", (unsigned long long)off);
        return DF11_E_AGAIN;
    }
    again_streak = 0;
    if (s->m == EIO_AT && off <= s->bad_off && s->bad_off < off + len) {
        err->code = DF11_E_IO;
        snprintf(err->message, sizeof err->message, "memsrc: injected EIO at offset %llu",
                 (unsigned long long)s->bad_off);
        return DF11_E_IO;
    }
    if (off >= s->size) {
        *got = 0;
        return DF11_OK;
    }
    size_t n = s->size - off < len ? (size_t)(s->size - off) : len;
    if (s->m == SHORT_READS && n > 1) n = 1 + (size_t)(rnd() % n);
    memcpy(buf, s->data + off, n);
    *got = n;
    return DF11_OK;
}

static void mem_close(void *ctx)
{
    memsrc *s = ctx;
    __atomic_add_fetch(&s->closes, 1, __ATOMIC_RELAXED);
}

static df11_source make_source(memsrc *s)
{
    return (df11_source){ .ctx = s, .size = s->size, .name = "mem://golden", .read_at = mem_read_at,
                          .close = mem_close };
}

/* Every chunk of r equals the same chunk of ref (df11_pread, chunk-sized
 * and odd-sized ranges). */
static bool same_bytes(df11_reader *r, df11_reader *ref, df11_error *e)
{
    uint64_t size = df11_original_size(ref);
    if (df11_original_size(r) != size) return false;
    uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
    bool ok = a && b;
    for (uint64_t off = 0; ok && off < size;) {
        size_t len = (size_t)((off * 7 + 4093) % 70001 + 1);
        if (len > size - off) len = (size_t)(size - off);
        ok = df11_pread(r, a + off, len, off, e) == DF11_OK;
        off += len;
    }
    ok = ok && df11_pread(ref, b, size, 0, e) == DF11_OK && memcmp(a, b, size) == 0;
    free(a);
    free(b);
    return ok;
}

typedef struct {
    df11_reader *r, *ref;
    bool ok;
    df11_error e;
} thread_job;

static void *check_thread(void *p)
{
    thread_job *j = p;
    j->ok = same_bytes(j->r, j->ref, &j->e);
    return NULL;
}

static df11_status discard(void *ctx, const void *buf, size_t len, df11_error *err)
{
    (void)ctx, (void)buf, (void)len, (void)err;
    return DF11_OK;
}

/* (a), (b): the same bytes on 4 threads at once, and a whole-file decode. */
static void misbehaving_but_working(const char *path, const uint8_t *file, size_t size, df11_reader *ref,
                                    mode m, const char *label)
{
    memsrc s = { .data = file, .size = size, .m = m };
    df11_source src = make_source(&s);
    df11_reader *r = NULL;
    df11_error e = {0};
    bool ok = df11_open_source(&src, &r, &e) == DF11_OK;
    thread_job jobs[4];
    pthread_t t[4];
    for (int i = 0; ok && i < 4; i++) {
        jobs[i] = (thread_job){ r, ref, false, {0} };
        pthread_create(&t[i], NULL, check_thread, &jobs[i]);
    }
    for (int i = 0; ok && i < 4; i++) {
        pthread_join(t[i], NULL);
        if (!jobs[i].ok) {
            ok = false;
            e = jobs[i].e;
        }
    }
    ok = ok && df11_decode_all(r, 3, discard, NULL, NULL, NULL, &e) == DF11_OK;
    df11_close(r);
    char name[96];
    snprintf(name, sizeof name, "decode_source.%s_%s", label, path);
    tu_result(ok && s.closes == 1 && (m != AGAIN_SOME || s.agains > 0), name,
              "%s; %u closes, %llu calls, %llu agains", e.message, s.closes, (unsigned long long)s.calls,
              (unsigned long long)s.agains);
}

int main(void)
{
    (void)tu_seed("decode_source"); /* the source's randomness is per thread */
    const char *files[] = { "tests/golden/mixed.df11", "tests/golden/bf16.df11" };
    for (int f = 0; f < 2; f++) {
        size_t size = 0;
        uint8_t *file = tu_read_file(files[f], &size);
        df11_reader *ref = NULL;
        df11_error e = {0};
        if (!file || df11_open(files[f], &ref, &e) != DF11_OK) {
            tu_result(false, "decode_source.setup", "%s: %s", files[f], e.message);
            return 1;
        }
        const char *base = strrchr(files[f], '/') + 1;
        misbehaving_but_working(base, file, size, ref, SHORT_READS, "short_reads");
        misbehaving_but_working(base, file, size, ref, AGAIN_SOME, "again_then_ok");

        /* (c) AGAIN forever: the open fails with DF11_E_IO, bounded, and
         * closes the source once; so does a read of an open reader */
        char name[96];
        memsrc s = { .data = file, .size = size, .m = AGAIN_FOREVER };
        df11_source src = make_source(&s);
        df11_reader *r = NULL;
        df11_status st = df11_open_source(&src, &r, &e);
        snprintf(name, sizeof name, "decode_source.again_forever_open_%s", base);
        tu_result(st == DF11_E_IO && !r && s.closes == 1 && s.calls < 100 && strstr(e.message, "mem://golden") &&
                      strstr(e.message, "busy"),
                  name, "%s: %s; %u closes, %llu calls", df11_status_name(st), e.message, s.closes,
                  (unsigned long long)s.calls);
        s = (memsrc){ .data = file, .size = size, .m = SHORT_READS };
        src = make_source(&s);
        st = df11_open_source(&src, &r, &e);
        uint8_t buf[4096];
        if (st == DF11_OK) {
            s.m = AGAIN_FOREVER;
            st = df11_pread(r, buf, sizeof buf < df11_original_size(r) ? sizeof buf : 1, 0, &e);
        }
        snprintf(name, sizeof name, "decode_source.again_forever_read_%s", base);
        tu_result(st == DF11_E_IO && strstr(e.message, "busy"), name, "%s: %s", df11_status_name(st), e.message);
        df11_close(r);
        snprintf(name, sizeof name, "decode_source.closed_once_%s", base);
        tu_result(s.closes == 1, name, "%u closes", s.closes);

        /* (d) a hard EIO inside one chunk's payload: that chunk fails with
         * the source's message, every other chunk still reads right */
        uint32_t victim = df11_chunk_count(ref) / 2;
        s = (memsrc){ .data = file, .size = size, .m = EIO_AT,
                      .bad_off = ref->chunks[victim].payload_offset + ref->chunks[victim].payload_length / 2 };
        src = make_source(&s);
        st = df11_open_source(&src, &r, &e);
        int wrong = 0, unexpected = 0;
        for (uint32_t i = 0; st == DF11_OK && i < df11_chunk_count(r); i++) {
            uint64_t off;
            uint32_t len;
            df11_chunk_extent(r, i, &off, &len);
            uint8_t *a = malloc(len + 1), *b = malloc(len + 1);
            df11_error ce = {0};
            df11_status cs = df11_pread(r, a, len, off, &ce);
            if (i == victim) {
                if (cs != DF11_E_IO || !strstr(ce.message, "injected EIO")) unexpected++;
            } else if (cs != DF11_OK || df11_pread(ref, b, len, off, &ce) != DF11_OK || memcmp(a, b, len)) {
                wrong++;
            }
            free(a);
            free(b);
        }
        df11_status all = st == DF11_OK ? df11_decode_all(r, 2, discard, NULL, NULL, NULL, &e) : st;
        snprintf(name, sizeof name, "decode_source.eio_at_offset_%s", base);
        tu_result(st == DF11_OK && !wrong && !unexpected && all == DF11_E_IO && strstr(e.message, "injected EIO"),
                  name, "open %s, %d wrong chunks, victim %s, decode_all %s: %s", df11_status_name(st), wrong,
                  unexpected ? "not the source's EIO" : "ok", df11_status_name(all), e.message);
        df11_close(r);
        tu_result(s.closes == 1, "decode_source.closed_once_after_eio", "%u closes", s.closes);

        /* (e) a failed open closes once: bad magic, a short object */
        uint8_t *junk = malloc(size);
        memcpy(junk, file, size);
        junk[0] ^= 0xFF;
        s = (memsrc){ .data = junk, .size = size, .m = SHORT_READS };
        src = make_source(&s);
        st = df11_open_source(&src, &r, &e);
        tu_result(st == DF11_E_BAD_MAGIC && s.closes == 1, "decode_source.failed_open_closes_once",
                  "%s, %u closes", df11_status_name(st), s.closes);
        s = (memsrc){ .data = file, .size = size / 2, .m = SHORT_READS };
        src = make_source(&s);
        st = df11_open_source(&src, &r, &e);
        tu_result(st != DF11_OK && s.closes == 1, "decode_source.short_object_closes_once", "%s, %u closes",
                  df11_status_name(st), s.closes);
        free(junk);
        df11_close(ref);
        free(file);
    }
    return tu_failures ? 1 : 0;
}
