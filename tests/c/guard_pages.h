/* guard_pages.h - buffers against PROT_NONE pages, for the decoder tests
 * whose SIMD paths ASan cannot watch (a gather's reads are invisible to
 * it): a read or write past a buffer is a SIGSEGV, which the handler turns
 * into a FAIL line naming guard_current, the case that was running. */
#ifndef DF11_TEST_GUARD_PAGES_H
#define DF11_TEST_GUARD_PAGES_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page;

typedef struct {
    uint8_t *map;
    size_t len;
} region;

/* size bytes ending at a PROT_NONE page (front = false) or starting right
 * after one (front = true); a size of 0 still gets a page between. */
static uint8_t *guarded(region *r, size_t size, bool front)
{
    size_t body = (size + page - 1) / page * page;
    if (!body) body = page;
    r->len = body + 2 * page;
    r->map = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->map == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    if (mprotect(r->map, page, PROT_NONE) || mprotect(r->map + page + body, page, PROT_NONE)) {
        perror("mprotect");
        exit(1);
    }
    return front ? r->map + page : r->map + page + body - size;
}

static void unguard(region *r) { munmap(r->map, r->len); }

/* What was running when a guard page was hit: written by the handler. */
static char current[200];

static void on_segv(int sig)
{
    (void)sig;
    static const char a[] = "FAIL ";
    static const char b[] = ": SIGSEGV (a read or write past its bounds)\n";
    if (write(1, a, sizeof a - 1) < 0 || write(1, current, strlen(current)) < 0 ||
        write(1, b, sizeof b - 1) < 0) {
    }
    _exit(1);
}

/* The page size, the name of the test for the handler, the handler. */
static void guard_init(const char *name)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    snprintf(current, sizeof current, "%s", name);
    signal(SIGSEGV, on_segv);
    signal(SIGBUS, on_segv);
}

#endif
