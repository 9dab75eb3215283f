// Fused attention on CUDA with an online softmax (no [n_kv, n_q] score matrix): the ops.h
// flash_attn with F16 or F32 K/V (KV-cache views), GQA, optional mask and logit soft-capping.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

// Head dims up to this are supported (per-lane registers hold D / 32 values).
constexpr int kFlashMaxHeadDim = 256;

// q F32 [D, n_q, n_head, 1], k [D, n_kv, n_head_kv, 1], v [Dv, n_kv, n_head_kv, 1], mask F32
// [n_kv, >= n_q] (mask.data may be null) -> dst F32 [Dv, n_head, n_q, 1] contiguous.
void launch_flash_attn(const TensorArg& q, const TensorArg& k, const TensorArg& v, const TensorArg& mask,
                       const TensorArg& dst, float scale, float softcap, cudaStream_t s);

}  // namespace hearth::cuda
