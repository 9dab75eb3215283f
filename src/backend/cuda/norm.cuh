// Row normalisation on CUDA: RMS norm and layer norm over ne[0], one block per row.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

// a F32 [n, rows...] (rows may be strided, elements packed) -> dst contiguous F32, same shape.
void launch_rms_norm(const TensorArg& a, const TensorArg& dst, float eps, cudaStream_t s);
void launch_layer_norm(const TensorArg& a, const TensorArg& dst, float eps, cudaStream_t s);

}  // namespace hearth::cuda
