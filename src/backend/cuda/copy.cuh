// Data movement on CUDA: get_rows (embedding lookup from any supported weight type into F32),
// cpy (F32 into an F32/F16/BF16 destination, e.g. a KV-cache view, in logical element order) and
// cont (same-type contiguous copy of a strided tensor).
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/cuda_tensor.h"

namespace hearth::cuda {

// table [n_embd, n_rows] (F32/F16/BF16/Q4_0/Q5_0/Q8_0/Q4_K/Q6_K), ids I32 [n, m] -> dst F32 [n_embd, n, m].
// An id outside [0, n_rows) writes zeros and sets *bad_id (device flag) so the host can throw.
void launch_get_rows(const TensorArg& table, const TensorArg& ids, const TensorArg& dst, int* bad_id, cudaStream_t s);
// src F32 any layout -> dst (F32/F16/BF16) any layout, same element count, logical order.
void launch_cpy(const TensorArg& src, const TensorArg& dst, cudaStream_t s);
// Contiguous copy of 4-byte (F32/I32) or 2-byte (F16/BF16) elements.
void launch_cont(const TensorArg& src, const TensorArg& dst, int elem_bytes, cudaStream_t s);

}  // namespace hearth::cuda
