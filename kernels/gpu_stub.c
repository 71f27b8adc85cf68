/* The CUDA seam (df11_cuda.h) for builds without CUDA: there is no device,
 * so every entry point says so and the codec decodes on the CPU. */
#include "df11_cuda.h"

#include <stdio.h>

static df11_status no_gpu(char *why, size_t why_len)
{
    if (why && why_len) snprintf(why, why_len, "built without CUDA");
    return DF11_E_NO_GPU;
}

df11_status df11_cuda_probe(char *why, size_t why_len) { return no_gpu(why, why_len); }

df11_status df11_cuda_decode(const df11_cuda_job *jobs, size_t n, const df11_cuda_tables *tables,
                             int device_mode, const df11_cuda_io *io, df11_status *status,
                             char *why, size_t why_len)
{
    (void)jobs; (void)n; (void)tables; (void)device_mode; (void)io; (void)status;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_copy_to_device(void *dst, const void *src, size_t len, char *why, size_t why_len)
{
    (void)dst; (void)src; (void)len;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_copy_to_host(void *dst, const void *src, size_t len, char *why, size_t why_len)
{
    (void)dst; (void)src; (void)len;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_malloc(void **p, size_t len, char *why, size_t why_len)
{
    (void)len;
    if (p) *p = NULL;
    return no_gpu(why, why_len);
}

void df11_cuda_free(void *p) { (void)p; }

df11_status df11_cuda_malloc_host(void **p, size_t len, char *why, size_t why_len)
{
    (void)len;
    if (p) *p = NULL;
    return no_gpu(why, why_len);
}

void df11_cuda_free_host(void *p) { (void)p; }

df11_status df11_cuda_info(df11_cuda_device_info *info, char *why, size_t why_len)
{
    (void)info;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_bench_decode(const df11_cuda_job *jobs, size_t n,
                                   const df11_cuda_tables *tables, const df11_cuda_io *io, int reps,
                                   double *sec, char *why, size_t why_len)
{
    (void)jobs; (void)n; (void)tables; (void)io; (void)reps; (void)sec;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_bench_copy(size_t bytes, int reps, double *h2d_sec, double *d2h_sec,
                                 char *why, size_t why_len)
{
    (void)bytes; (void)reps; (void)h2d_sec; (void)d2h_sec;
    return no_gpu(why, why_len);
}

df11_status df11_cuda_bench_d2d_copy(size_t bytes, int reps, double *sec, char *why, size_t why_len)
{
    (void)bytes; (void)reps; (void)sec;
    return no_gpu(why, why_len);
}
