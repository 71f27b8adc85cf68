/*
 * cuda_check.cuh - every CUDA runtime call in kernels/ goes through CK(), which
 * turns a failure into DF11_E_GPU with a message naming the call, so the
 * codec can fall back to the CPU and tell the user why.
 */
#ifndef DF11_CUDA_CHECK_CUH
#define DF11_CUDA_CHECK_CUH

#ifdef DF11_FAKE_CUDA
#include "fake_cuda.h" /* batch.cu's host logic on the CPU, for tests */
#else
#include <cuda_runtime.h>
#endif
#include <stdio.h>
#include <string.h>

#include "df11_cuda.h"

/* Writes "<call name>: <CUDA error>" to why. Only the function name of the
 * call is kept (the text up to its first parenthesis). */
static inline bool df11_ck(cudaError_t e, const char *call, char *why, size_t why_len)
{
    if (e == cudaSuccess) return true;
    const char *paren = strchr(call, '(');
    int name_len = paren ? (int)(paren - call) : (int)strlen(call);
    if (why && why_len)
        snprintf(why, why_len, "%.*s failed: %s (%s)", name_len, call,
                 cudaGetErrorString(e), cudaGetErrorName(e));
    return false;
}

/* For functions returning df11_status with char *why, size_t why_len. */
#define CK(call)                                                   \
    do {                                                           \
        if (!df11_ck((call), #call, why, why_len)) return DF11_E_GPU; \
    } while (0)

static inline void df11_set_why(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
}

#endif
