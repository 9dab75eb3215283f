// Scalar reference conversions between float rows and every block format hearth knows.
// These are the "truth" every optimized kernel (AVX2, AVX-512, CUDA) is tested against, and they
// must agree bit-for-bit with llama.cpp's dequantizers (tests/python/test_dequant_reference.py).
// Rows: n elements, n a multiple of the type's block size (dtype_traits(type).block_elems).
#pragma once

#include <cstdint>

#include "quant/dtype.h"

namespace hearth::quant {

// dst[0..n) = the values encoded in src. Asserts the type has a dequantizer (see DTypeTraits).
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

// Encode src[0..n) into dst (dtype_row_bytes(type, n) bytes). `importance` (optional, n weights)
// steers the error weighting of the K-quant/IQ searches as an importance matrix does.
void quantize_row(DType type, const float* src, void* dst, int64_t n, const float* importance = nullptr);

// The activation format a weight type's dot product pairs with (Q8_0, Q8_1 or Q8_K; F32 for float
// weights).
DType vec_dot_type(DType weight_type);

// Reference dot product: weight row w (type) · activation row a (vec_dot_type(type)), n elements.
float vec_dot(DType type, int64_t n, const void* w, const void* a);

}  // namespace hearth::quant
