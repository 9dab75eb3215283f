// Element-wise CUDA kernels (see elementwise.cuh).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/elementwise.cuh"

namespace hearth::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float gelu_tanh(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

__global__ void binary_kernel(BinaryOp op, TensorArg a, TensorArg b, TensorArg dst, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t i0, i1, i2, i3;
    unravel(i, dst, i0, i1, i2, i3);
    const float x = *reinterpret_cast<const float*>(elem_ptr(a, i0, i1, i2, i3));
    const float y = *reinterpret_cast<const float*>(
        elem_ptr(b, i0 % b.ne[0], i1 % b.ne[1], i2 % b.ne[2], i3 % b.ne[3]));
    reinterpret_cast<float*>(dst.data)[i] = op == BinaryOp::Add ? x + y : op == BinaryOp::Mul ? x * y : x / y;
}

__global__ void unary_kernel(UnaryOp op, TensorArg a, TensorArg dst, float param, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t i0, i1, i2, i3;
    unravel(i, dst, i0, i1, i2, i3);
    const float x = *reinterpret_cast<const float*>(elem_ptr(a, i0, i1, i2, i3));
    float y = 0.0f;
    switch (op) {
        case UnaryOp::Silu: y = silu(x); break;
        case UnaryOp::Gelu: y = gelu_tanh(x); break;
        case UnaryOp::GeluErf: y = 0.5f * x * (1.0f + erff(x * 0.7071067811865476f)); break;
        case UnaryOp::Tanh: y = tanhf(x); break;
        case UnaryOp::Scale: y = x * param; break;
        case UnaryOp::Softcap: y = param * tanhf(x / param); break;
    }
    reinterpret_cast<float*>(dst.data)[i] = y;
}

__global__ void gated_kernel(GatedOp op, TensorArg a, TensorArg b, TensorArg dst, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t i0, i1, i2, i3;
    unravel(i, dst, i0, i1, i2, i3);
    const float x = *reinterpret_cast<const float*>(elem_ptr(a, i0, i1, i2, i3));
    const float g = *reinterpret_cast<const float*>(elem_ptr(b, i0, i1, i2, i3));
    reinterpret_cast<float*>(dst.data)[i] = (op == GatedOp::Swiglu ? silu(x) : gelu_tanh(x)) * g;
}

unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

}  // namespace

void launch_binary(BinaryOp op, const TensorArg& a, const TensorArg& b, const TensorArg& dst, cudaStream_t s) {
    const int64_t n = n_of(dst);
    if (n == 0) return;
    binary_kernel<<<blocks_for(n), kThreads, 0, s>>>(op, a, b, dst, n);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

void launch_unary(UnaryOp op, const TensorArg& a, const TensorArg& dst, float param, cudaStream_t s) {
    const int64_t n = n_of(dst);
    if (n == 0) return;
    unary_kernel<<<blocks_for(n), kThreads, 0, s>>>(op, a, dst, param, n);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

void launch_gated(GatedOp op, const TensorArg& a, const TensorArg& b, const TensorArg& dst, cudaStream_t s) {
    const int64_t n = n_of(dst);
    if (n == 0) return;
    gated_kernel<<<blocks_for(n), kThreads, 0, s>>>(op, a, b, dst, n);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
