// Device-side helpers shared by the kernels: element addressing of a TensorArg and block/warp
// reductions. The per-element dequantizers (load_elem) live in dequant_elem.h, shared with host tests.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "backend/cuda/cuda_tensor.h"
#include "backend/cuda/dequant_elem.h"

namespace hearth::cuda {

__device__ __forceinline__ char* elem_ptr(const TensorArg& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return t.data + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}
__device__ __forceinline__ char* row_ptr(const TensorArg& t, int64_t i1, int64_t i2, int64_t i3) {
    return t.data + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

// Splits a linear (logical, row-major over ne[0..3]) index into (i0, i1, i2, i3) of t's shape.
__device__ __forceinline__ void unravel(int64_t i, const TensorArg& t, int64_t& i0, int64_t& i1, int64_t& i2,
                                        int64_t& i3) {
    i0 = i % t.ne[0];
    i /= t.ne[0];
    i1 = i % t.ne[1];
    i /= t.ne[1];
    i2 = i % t.ne[2];
    i3 = i / t.ne[2];
}

inline int64_t n_of(const TensorArg& t) { return t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]; }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets the result.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    v = warp_sum(v);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    const int n_warps = int(blockDim.x + 31) / 32;
    float s = lane < n_warps ? partial[lane] : 0.0f;
    return warp_sum(s);
}
__device__ __forceinline__ float block_max(float v) {
    __shared__ float partial[32];
    v = warp_max(v);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    const int n_warps = int(blockDim.x + 31) / 32;
    float s = lane < n_warps ? partial[lane] : -INFINITY;
    return warp_max(s);
}

}  // namespace hearth::cuda
