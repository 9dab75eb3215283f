// Matrix products on CUDA. Decode (few activation columns): a kernel that reads the weights in
// their stored format (F32/F16/BF16/Q4_0/Q5_0/Q8_0/Q4_K/Q6_K) and dots them with F32 activations,
// one block per output element. Prompts: the backend dequantizes the weights to F16 and converts
// the activations to F16 (the launchers below) and calls cuBLAS (cuda_backend.cpp).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

// w [K, M, W2, W3], x F32 [K, N, X2, X3] -> dst F32 [M, N, X2, X3] contiguous (the ops.h mul_mat).
void launch_mul_mat_vec(const TensorArg& w, const TensorArg& x, const TensorArg& dst, cudaStream_t s);
// 2-D w [K, M] (rows strided, any supported type) -> out F16 [K, M] packed.
void launch_to_f16(const TensorArg& w, __half* out, cudaStream_t s);

}  // namespace hearth::cuda
