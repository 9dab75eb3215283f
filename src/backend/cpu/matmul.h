// Quantized matrix multiplication on the CPU: activation quantization + weight-row × activation-row
// dot products for every supported weight block format, with scalar / AVX2 / AVX-512-VNNI paths
// chosen at run time. The caller splits weight rows across threads; everything below is here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_features.h"
#include "quant/dtype.h"

namespace hearth::cpu {

// Isa, active_isa() (best ISA this CPU runs, lowered by env HEARTH_CPU_ISA=scalar|avx2|avx512) and
// isa_name() are declared in backend/cpu/cpu_features.h; active_isa() and isa_name() are
// implemented by this module (matmul.cpp).

// True when matmul_quantized handles weights of this type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K,
// IQ4_NL, IQ4_XS).
bool matmul_supported(DType wtype);

// Bytes needed to hold n_rows activation rows of length k quantized for weight type wtype.
// k must be a multiple of the weight type's block size. The layout (matmul_internal.h) is the same
// for every weight type, so one quantized buffer serves all weight types of the same k:
//   per row [int8 q[k]][float d[k/32]][float d*sum(q) per 32][float d*sum(q) per 16], padded to a
//   multiple of 64 bytes (q ~= x / d, d = max|x| / 127 per block of 32).
size_t quantized_activation_bytes(DType wtype, int64_t k, int64_t n_rows);

// Quantize rows [row_begin,row_end) of activations (row r at src + r*src_stride floats) into dst
// (row r at dst + r*quantized_activation_bytes(wtype,k,1)).
void quantize_activations(DType wtype, const float* src, int64_t src_stride, int64_t k, int64_t row_begin,
                          int64_t row_end, void* dst);

// Same, forced onto one ISA (<= best_isa(); for tests/benchmarks). Every ISA gives identical bytes.
void quantize_activations_isa(Isa isa, DType wtype, const float* src, int64_t src_stride, int64_t k,
                              int64_t row_begin, int64_t row_end, void* dst);

// out[j*out_stride + i] = dot(weight row i, activation row j) for i in [w_row_begin, w_row_end), j in [0, n):
//   w: weight rows, row i at (const char*)w + i*w_row_bytes, each k elements of type wtype;
//   a_q: n activation rows from quantize_activations (same wtype and k).
void matmul_quantized(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                      int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);

// Same as matmul_quantized but forced onto one ISA (must be <= best_isa(); for tests/benchmarks).
void matmul_quantized_isa(Isa isa, DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k,
                          int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);

// Reads `bytes` bytes at p with the widest loads the active ISA has and returns a checksum, so
// benchmarks can measure the machine's streaming read bandwidth (the ceiling of decode matmuls).
uint64_t stream_read_checksum(const void* p, size_t bytes);

}  // namespace hearth::cpu
