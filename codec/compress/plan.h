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
    uint32_t count;
} df11_plan;

/* Reads the safetensors header of fd (size bytes) and plans its segments. */
df11_status df11_plan_file(int fd, const char *path, uint64_t size, df11_plan *p, df11_error *err);
void df11_plan_free(df11_plan *p);
#endif
