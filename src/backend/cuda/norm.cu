// RMS norm / layer norm kernels (see norm.cuh): a block of 256 threads strides over one row.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/norm.cuh"

namespace hearth::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void norm_kernel(TensorArg a, TensorArg dst, float eps, bool rms) {
    const int64_t r = blockIdx.x;
    const int64_t i1 = r % a.ne[1], i2 = (r / a.ne[1]) % a.ne[2], i3 = r / (a.ne[1] * a.ne[2]);
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    float* y = reinterpret_cast<float*>(dst.data) + r * a.ne[0];
    const int64_t n = a.ne[0];
    float mean = 0.0f;
    if (!rms) {
        float s = 0.0f;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
        mean = block_sum(s) / float(n);
    }
    float s2 = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = x[i] - mean;
        s2 += v * v;
    }
    const float inv = rsqrtf(block_sum(s2) / float(n) + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] = (x[i] - mean) * inv;
}

void launch(const TensorArg& a, const TensorArg& dst, float eps, bool rms, cudaStream_t s) {
    const int64_t rows = a.ne[1] * a.ne[2] * a.ne[3];
    if (rows == 0 || a.ne[0] == 0) return;
    norm_kernel<<<unsigned(rows), kThreads, 0, s>>>(a, dst, eps, rms);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_rms_norm(const TensorArg& a, const TensorArg& dst, float eps, cudaStream_t s) { launch(a, dst, eps, true, s); }
void launch_layer_norm(const TensorArg& a, const TensorArg& dst, float eps, cudaStream_t s) {
    launch(a, dst, eps, false, s);
}

}  // namespace hearth::cuda
