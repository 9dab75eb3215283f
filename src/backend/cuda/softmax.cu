// Softmax kernel (see softmax.cuh): one block per row, three passes (max, sum of exp, normalise).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/softmax.cuh"

namespace hearth::cuda {
namespace {

__global__ void softmax_kernel(TensorArg a, TensorArg mask, TensorArg dst, float scale) {
    const int64_t r = blockIdx.x;
    const int64_t i1 = r % a.ne[1], i2 = (r / a.ne[1]) % a.ne[2], i3 = r / (a.ne[1] * a.ne[2]);
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    const float* m = mask.data ? reinterpret_cast<const float*>(row_ptr(mask, i1, 0, 0)) : nullptr;
    float* y = reinterpret_cast<float*>(dst.data) + r * a.ne[0];
    const int64_t n = a.ne[0];
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = fmaxf(mx, x[i] * scale + (m ? m[i] : 0.0f));
    mx = block_max(mx);
    if (mx == -INFINITY) {  // every key masked out
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float e = expf(x[i] * scale + (m ? m[i] : 0.0f) - mx);
        y[i] = e;
        sum += e;
    }
    const float inv = 1.0f / block_sum(sum);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] *= inv;
}

}  // namespace

void launch_softmax(const TensorArg& a, const TensorArg& mask, const TensorArg& dst, float scale, cudaStream_t s) {
    const int64_t rows = a.ne[1] * a.ne[2] * a.ne[3];
    if (rows == 0 || a.ne[0] == 0) return;
    softmax_kernel<<<unsigned(rows), 256, 0, s>>>(a, mask, dst, scale);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
