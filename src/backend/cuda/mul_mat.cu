// Matrix-product kernels (see mul_mat.cuh). The weight type is a template parameter so each
// instantiation's per-element dequantizer (cuda_common.cuh) is resolved at compile time.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/mul_mat.cuh"
#include "core/error.h"

namespace hearth::cuda {
namespace {

constexpr int kThreads = 128;

// grid (M, N, X2*X3): block (i, j, i23) computes dst[i, j, i2, i3] = dot(w row i of batch
// (i2 / r2, i3 / r3), x row (j, i2, i3)); threads stride over K and reduce at the end.
template <uint32_t T>
__global__ void mul_mat_vec_kernel(TensorArg w, TensorArg x, TensorArg dst) {
    const int64_t i = blockIdx.x, j = blockIdx.y;
    const int64_t i2 = blockIdx.z % x.ne[2], i3 = blockIdx.z / x.ne[2];
    const int64_t r2 = x.ne[2] / w.ne[2], r3 = x.ne[3] / w.ne[3];
    const char* wrow = row_ptr(w, i, i2 / r2, i3 / r3);
    const float* xrow = reinterpret_cast<const float*>(row_ptr(x, j, i2, i3));
    float acc = 0.0f;
    constexpr int kBlock32 = block32_bytes(T);
    if constexpr (kBlock32 > 0) {  // legacy 32-element blocks: a thread takes whole blocks
        const uint8_t* blocks = reinterpret_cast<const uint8_t*>(wrow);
        for (int64_t b = threadIdx.x; b < w.ne[0] / 32; b += blockDim.x)
            acc += dot_block32(T, blocks + b * kBlock32, xrow + b * 32);
    } else {
        for (int64_t e = threadIdx.x; e < w.ne[0]; e += blockDim.x) acc += load_elem(T, wrow, e) * xrow[e];
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) {
        float* out = reinterpret_cast<float*>(dst.data);
        out[((i3 * dst.ne[2] + i2) * dst.ne[1] + j) * dst.ne[0] + i] = acc;
    }
}

template <uint32_t T>
__global__ void to_f16_kernel(TensorArg w, __half* out) {
    const int64_t i = blockIdx.x;
    const char* row = row_ptr(w, i, 0, 0);
    for (int64_t e = threadIdx.x; e < w.ne[0]; e += blockDim.x)
        out[i * w.ne[0] + e] = __float2half(load_elem(T, row, e));
}


#define HEARTH_CUDA_TYPE_SWITCH(type, KERNEL, GRID, BLOCK, STREAM, ...)                        \
    switch (type) {                                                                         \
        case kF32: KERNEL<kF32><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;            \
        case kF16: KERNEL<kF16><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;            \
        case kBF16: KERNEL<kBF16><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        case kQ4_0: KERNEL<kQ4_0><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        case kQ5_0: KERNEL<kQ5_0><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        case kQ8_0: KERNEL<kQ8_0><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        case kQ4_K: KERNEL<kQ4_K><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        case kQ6_K: KERNEL<kQ6_K><<<GRID, BLOCK, 0, STREAM>>>(__VA_ARGS__); break;          \
        default: HEARTH_ASSERT_MSG(false, "CUDA mul_mat: weight type not admitted by supports_op"); \
    }

}  // namespace

void launch_mul_mat_vec(const TensorArg& w, const TensorArg& x, const TensorArg& dst, cudaStream_t s) {
    if (w.ne[1] == 0 || x.ne[1] == 0 || x.ne[2] * x.ne[3] == 0) return;
    const dim3 grid(unsigned(w.ne[1]), unsigned(x.ne[1]), unsigned(x.ne[2] * x.ne[3]));
    HEARTH_CUDA_TYPE_SWITCH(w.type, mul_mat_vec_kernel, grid, kThreads, s, w, x, dst)
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

void launch_to_f16(const TensorArg& w, __half* out, cudaStream_t s) {
    if (w.ne[1] == 0) return;
    HEARTH_CUDA_TYPE_SWITCH(w.type, to_f16_kernel, unsigned(w.ne[1]), kThreads, s, w, out)
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
