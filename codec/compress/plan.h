/* Segment plan of an input file, before any chunk is encoded. */
#ifndef DF11_PLAN_H
#define DF11_PLAN_H
#include "../common/internal.h"

typedef struct {
    uint64_t offset, length;
    uint8_t kind;
} df11_plan_seg;

typedef struct {
    df11_plan_seg *segs;
    uint32_t count, cap;
} df11_plan;

/* Reads the safetensors header of fd (size bytes) and plans its segments
 * for chunks of 2^chunk_log2 bytes (plan.c says how). */
df11_status df11_plan_file(int fd, const char *path, uint64_t size, uint32_t chunk_log2,
                           df11_plan *p, df11_error *err);
void df11_plan_free(df11_plan *p);

/* The exact size df11_exp_encode gives n elements of width 2 or 4 whose
 * exponent histogram is freq (exp_encode.c): pass 1 fixes every chunk's
 * size from it, before anything is written. 0 when a symbol has no code. */
size_t df11_exp_size(const uint32_t freq[256], uint32_t n, unsigned width, uint32_t lane_symbols,
                     const uint8_t len[256]);
#endif
