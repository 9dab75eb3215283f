// Register-blocked matmul for non-quantized weights (F32, F16, BF16) against F32 activations, with
// scalar / AVX2 / AVX-512 paths picked at run time. Every output element is computed with the same
// accumulation order whatever the batch size or its position in the batch (batch invariance).
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_features.h"
#include "quant/dtype.h"

namespace hearth::cpu {

// True for the weight types matmul_float handles: F32, F16, BF16.
bool matmul_float_supported(DType wtype);

// out[j*out_stride + i] = sum_k w_i[k] * x_j[k] for i in [w_row_begin, w_row_end), j in [0, n):
//   w: weight rows, row i at (const char*)w + i*w_row_bytes, k values of wtype each;
//   x: n activation rows of k floats, row j at x + j*x_stride (callers round them to the weights'
//      16-bit type first when they want llama.cpp's numerics; this function uses them as given).
// Per ISA the result for (i, j) is bitwise the same for any n, row range, or position of row j.
// Different ISA levels may differ in the last bits (vector width changes the summation order).
void matmul_float(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride, int64_t k,
                  int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);

// Same, forced onto one ISA (must be <= best_isa(); for tests, benchmarks and the CPU backend,
// which passes its own ISA level).
void matmul_float_isa(Isa isa, DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                      int64_t k, int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);

namespace detail {
// ISA kernels behind matmul_float_isa (arguments already validated; x86-64 builds only).
void matmul_float_avx2(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                       int64_t k, int64_t n, int64_t m0, int64_t m1, float* out, int64_t out_stride);
void matmul_float_avx512(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                         int64_t k, int64_t n, int64_t m0, int64_t m1, float* out, int64_t out_stride);
}  // namespace detail

}  // namespace hearth::cpu
