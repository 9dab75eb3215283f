// Element-wise CUDA ops: broadcast binaries (add/mul/div), scale, softcap, the unary activations
// (silu, gelu tanh/erf, tanh) and the gated ones (swiglu, geglu). Sources may be strided; dst is
// contiguous F32 with a's shape. One thread per output element.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

enum class BinaryOp { Add, Mul, Div };
enum class UnaryOp { Silu, Gelu, GeluErf, Tanh, Scale, Softcap };
enum class GatedOp { Swiglu, Geglu };

void launch_binary(BinaryOp op, const TensorArg& a, const TensorArg& b, const TensorArg& dst, cudaStream_t s);
// param: the scale factor (Scale) or the cap (Softcap); unused otherwise.
void launch_unary(UnaryOp op, const TensorArg& a, const TensorArg& dst, float param, cudaStream_t s);
void launch_gated(GatedOp op, const TensorArg& a, const TensorArg& b, const TensorArg& dst, cudaStream_t s);

}  // namespace hearth::cuda
