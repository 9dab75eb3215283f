// Rope kernel (see rope.cuh): one block per (head, token), threads over rotation pairs; the
// dimensions past n_dims are copied through.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/rope.cuh"

namespace hearth::cuda {
namespace {

__global__ void rope_kernel(TensorArg x, TensorArg pos, TensorArg dst, RopeArgs r) {
    const int64_t h = blockIdx.x, t = blockIdx.y;
    const float* in = reinterpret_cast<const float*>(row_ptr(x, h, t, 0));
    float* out = reinterpret_cast<float*>(dst.data) + (t * x.ne[1] + h) * x.ne[0];
    const float p = float(reinterpret_cast<const int32_t*>(pos.data)[t]);
    for (int64_t i = r.n_dims + threadIdx.x; i < x.ne[0]; i += blockDim.x) out[i] = in[i];
    for (int i = threadIdx.x; i < r.n_dims / 2; i += blockDim.x) {
        const float theta = r.freq_scale * p * powf(r.freq_base, -2.0f * float(i) / float(r.n_dims));
        float sn, cs;
        sincosf(theta, &sn, &cs);
        const int ia = r.neox ? i : 2 * i, ib = r.neox ? i + r.n_dims / 2 : 2 * i + 1;
        const float a = in[ia], b = in[ib];
        out[ia] = (a * cs - b * sn) * r.attn_factor;
        out[ib] = (a * sn + b * cs) * r.attn_factor;
    }
}

}  // namespace

void launch_rope(const TensorArg& x, const TensorArg& pos, const TensorArg& dst, const RopeArgs& r, cudaStream_t s) {
    if (x.ne[1] == 0 || x.ne[2] == 0) return;
    rope_kernel<<<dim3(unsigned(x.ne[1]), unsigned(x.ne[2])), 64, 0, s>>>(x, pos, dst, r);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
