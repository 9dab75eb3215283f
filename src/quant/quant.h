// Scalar reference conversions between float rows and every block format hearth knows.
// These are the "truth" every optimized kernel (AVX2, AVX-512, CUDA) is tested against, and they
// must agree bit-for-bit with llama.cpp's dequantizers (tests/python/test_dequant_reference.py).
// Rows: n elements, n a multiple of the type's block size (dtype_traits(type).block_elems).
#pragma once

#include <cstdint>

#include "quant/dtype.h"

namespace hearth::quant {

// dst[0..n) = the values encoded in src. Throws Error(Unsupported) for a type without a
// dequantizer (DTypeTraits::can_dequantize) and Error(InvalidArgument) when n is not a multiple of
// the block size. Any bytes decode without undefined behaviour (corrupt scales may yield inf/NaN).
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

// Encode src[0..n) into dst (dtype_row_bytes(type, n) bytes). `importance` (optional, n finite
// weights >= 0, e.g. an importance matrix row) weights each element's squared error in the scale
// searches; nullptr minimizes the plain squared error. Without importance Q4_0..Q8_1 use the classic
// formulas (byte-identical to llama.cpp's reference encoders); K-quants and IQ4 always search.
// Throws Error(InvalidArgument) on non-finite input for block types or bad importance weights.
void quantize_row(DType type, const float* src, void* dst, int64_t n, const float* importance = nullptr);

// The activation format a weight type's dot product pairs with (Q8_0, Q8_1 or Q8_K; F32 for float
// weights). Throws Error(Unsupported) for other weight types.
DType vec_dot_type(DType weight_type);

// Reference dot product: weight row w (type) · activation row a (vec_dot_type(type), e.g. made by
// quantize_row), n elements. Both rows are dequantized exactly and accumulated in double, so this
// is the value optimized integer kernels approximate up to float rounding.
float vec_dot(DType type, int64_t n, const void* w, const void* a);

}  // namespace hearth::quant
