// Fast conversion of one KV-cache row (the block formats a quantized KV cache may hold, and bf16)
// to floats for the flash-attention V tiles. AVX2 versions live in cpu_kv_rows_avx2.cpp; every other
// case falls back to the scalar reference dequantizer (quant/quant.h), which gives the same values.
#pragma once

#include <cstdint>

#include "quant/dtype.h"

namespace hearth::cpu {

namespace avx2 {  // defined only in x86-64 builds (HEARTH_X86)
// dst[0..n) = row src of type t; returns false (nothing written) for a type it does not handle
// (handled: bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl; n a multiple of the block size).
bool kv_row_to_f32(DType t, const void* src, float* dst, int64_t n);
}  // namespace avx2

}  // namespace hearth::cpu
