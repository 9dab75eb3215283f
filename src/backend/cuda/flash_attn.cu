// Flash-attention kernel (see flash_attn.cuh): one warp per (query head, query row). Each lane keeps
// D/32 query values and Dv/32 output accumulators in registers; for every key the warp reduces the
// q.k dot, then applies the running-max rescaling of the online softmax to the accumulators.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/flash_attn.cuh"

namespace hearth::cuda {
namespace {

constexpr int kPerLane = kFlashMaxHeadDim / 32;

__global__ void flash_attn_kernel(TensorArg q, TensorArg k, TensorArg v, TensorArg mask, TensorArg dst, float scale,
                                  float softcap) {
    const int64_t h = blockIdx.x, iq = blockIdx.y;
    const int lane = threadIdx.x;
    const int64_t D = q.ne[0], Dv = v.ne[0], n_kv = k.ne[1];
    const int64_t hk = h / (q.ne[2] / k.ne[2]);  // GQA: the KV head serving query head h
    const float* qrow = reinterpret_cast<const float*>(row_ptr(q, iq, h, 0));
    const float* mrow = mask.data ? reinterpret_cast<const float*>(row_ptr(mask, iq, 0, 0)) : nullptr;

    float qv[kPerLane], acc[kPerLane];
    for (int c = 0; c < kPerLane; ++c) {
        const int64_t d = lane + 32 * c;
        qv[c] = d < D ? qrow[d] : 0.0f;
        acc[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = 0; j < n_kv; ++j) {
        const float mv = mrow ? mrow[j] : 0.0f;
        if (mv == -INFINITY) continue;
        const char* krow = row_ptr(k, j, hk, 0);
        float dot = 0.0f;
        for (int c = 0; c < kPerLane; ++c) {
            const int64_t d = lane + 32 * c;
            if (d < D) dot += qv[c] * load_elem(k.type, krow, d);
        }
        float s = warp_sum(dot) * scale;
        if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
        s += mv;
        const float m_new = fmaxf(m, s);
        const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
        const float p = expf(s - m_new);
        l = l * corr + p;
        const char* vrow = row_ptr(v, j, hk, 0);
        for (int c = 0; c < kPerLane; ++c) {
            const int64_t d = lane + 32 * c;
            if (d < Dv) acc[c] = acc[c] * corr + p * load_elem(v.type, vrow, d);
        }
        m = m_new;
    }
    float* out = reinterpret_cast<float*>(dst.data) + (iq * q.ne[2] + h) * Dv;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // every key masked: zeros
    for (int c = 0; c < kPerLane; ++c) {
        const int64_t d = lane + 32 * c;
        if (d < Dv) out[d] = acc[c] * inv;
    }
}

}  // namespace

void launch_flash_attn(const TensorArg& q, const TensorArg& k, const TensorArg& v, const TensorArg& mask,
                       const TensorArg& dst, float scale, float softcap, cudaStream_t s) {
    if (q.ne[1] == 0 || q.ne[2] == 0) return;
    flash_attn_kernel<<<dim3(unsigned(q.ne[2]), unsigned(q.ne[1])), 32, 0, s>>>(q, k, v, mask, dst, scale, softcap);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
