/* df11_xxh3_64: the format's checksum (XXH3-64, seed 0) at the CPU's speed,
 * leaving the vector registers clean for whatever runs next. */
#include "df11.h"

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xxh_x86dispatch.h>

/* libxxhash is built for the x86-64 baseline, where XXH3_64bits runs SSE2
 * code: 14.5 GB/s on 256 KiB here (Zen 4). Its run-time dispatcher picks
 * the AVX2 or AVX-512 loop instead (39-46 GB/s), but Debian 12's 0.8.1
 * returns from those loops without vzeroupper (the library holds 2 of them
 * against ~1,260 ymm/zmm instructions). With the upper halves dirty, every
 * legacy-SSE instruction after it merges into them: OpenSSL's SHA-NI
 * SHA-256 fell from 1.81 to 1.35 GB/s in any thread of a process that had
 * hashed one chunk (threads inherit the state), and any other legacy-SSE
 * code (zstd, this library's baseline parts, the caller's) was exposed the
 * same way. One vzeroupper after each call ends it; it
 * is an AVX instruction, so only where the CPU has AVX (the only CPUs on
 * which the dispatcher can have dirtied anything). */
__attribute__((target("avx"))) static void clear_upper(void) { __builtin_ia32_vzeroupper(); }

uint64_t df11_xxh3_64(const void *p, size_t n)
{
    uint64_t h = XXH3_64bits_dispatch(p, n);
    if (__builtin_cpu_supports("avx")) clear_upper();
    return h;
}
#else
uint64_t df11_xxh3_64(const void *p, size_t n) { return XXH3_64bits(p, n); }
#endif
