// Masked, scaled softmax over rows on CUDA: softmax(a * scale + mask) with a fully masked row
// giving zeros (the attention path without flash attention).
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

// a F32 [n_kv, n_q, n_head, 1]; mask F32 [n_kv, >= n_q] or mask.data == nullptr; dst contiguous.
void launch_softmax(const TensorArg& a, const TensorArg& mask, const TensorArg& dst, float scale, cudaStream_t s);

}  // namespace hearth::cuda
