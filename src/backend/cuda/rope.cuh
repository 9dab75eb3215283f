// Rotary position embedding on CUDA, normal (adjacent pairs) and NeoX (halves) modes, linear
// frequency scaling and attn_factor; YaRN (ext_factor != 0) is not offered (supports_op says no).
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

struct RopeArgs {
    int n_dims = 0;
    bool neox = false;
    float freq_base = 10000.0f, freq_scale = 1.0f, attn_factor = 1.0f;
};

// x F32 [head_dim, n_head, n_tokens] (strided rows fine), pos I32 [n_tokens] -> dst contiguous.
void launch_rope(const TensorArg& x, const TensorArg& pos, const TensorArg& dst, const RopeArgs& r, cudaStream_t s);

}  // namespace hearth::cuda
