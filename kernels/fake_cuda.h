/*
 * fake_cuda.h - the subset of the CUDA runtime API that kernels/batch.cu
 * uses, implemented on the CPU (kernels/fake_cuda.cpp), so batch.cu's host
 * logic - the slot pool, the per-slot device table cache, pinned/pageable
 * copy out, device mode, the broken-context path - runs in tests on
 * machines without a GPU (build/tests/gpu_diff_fake). batch.cu is compiled
 * as plain C++ with DF11_FAKE_CUDA; cuda_check.cuh and exp16.cuh then
 * include this header instead of <cuda_runtime.h>.
 *
 * Every call executes at once, in order (a stream is only a name), so the
 * fake cannot find races between streams or with the host: it tests the
 * logic, not the asynchrony. Events record the host clock, so the
 * benchmark's timings (kernels/bench.cu, gpu_bench_fake) are CPU times. "Device" memory is host memory the fake
 * remembers as such, so cudaPointerGetAttributes tells device, pinned and
 * pageable memory apart as the real runtime does. The launchers
 * (df11_exp16_launch, df11_ans_launch, df11_ans_il_launch) run the kernels' lanes with the
 * CPU model's lane code.
 *
 * DF11_FAKE_CUDA_FAIL_AT=N makes the Nth fallible call after the variable
 * is (re)set fail with cudaErrorUnknown, to test the failure paths.
 * extern "C" long df11_fake_cuda_unsynced(void) counts the operations
 * enqueued on live streams that no successful stream or event
 * synchronization has covered: what a GPU might still be running (a call
 * must not return with any of its own left, even when it fails).
 */
#ifndef DF11_FAKE_CUDA_H
#define DF11_FAKE_CUDA_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorUnknown = 999,
} cudaError_t;
typedef cudaError_t cudaError;

typedef enum {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
} cudaMemcpyKind;

typedef enum {
    cudaMemoryTypeUnregistered = 0,
    cudaMemoryTypeHost = 1,
    cudaMemoryTypeDevice = 2,
    cudaMemoryTypeManaged = 3,
} cudaMemoryType;

typedef struct {
    cudaMemoryType type;
    int device;
} cudaPointerAttributes;

typedef struct {
    char name[256];
    int major, minor;
    int multiProcessorCount;
    size_t totalGlobalMem;
} cudaDeviceProp;

typedef enum {
    cudaDevAttrMemoryClockRate = 36,
    cudaDevAttrGlobalMemoryBusWidth = 37,
} cudaDeviceAttr;

typedef struct {
    int numRegs;
} cudaFuncAttributes;

typedef struct fake_stream *cudaStream_t;
typedef struct fake_event *cudaEvent_t;

#define cudaStreamNonBlocking 0x1u
#define cudaEventDisableTiming 0x2u

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int dev);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaMalloc(void **p, size_t len);
cudaError_t cudaMallocHost(void **p, size_t len);
cudaError_t cudaFree(void *p);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemset(void *p, int v, size_t len);
cudaError_t cudaMemsetAsync(void *p, int v, size_t len, cudaStream_t s);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t len, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t len, cudaMemcpyKind k, cudaStream_t s);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *a, const void *p);

#endif
