// AVX-512 VNNI (vpdpbusd on 256-bit vectors, 32 registers) build of the x86 quantized matmul
// kernels; entry point detail::matmul_avx512.
#define HEARTH_MM_VNNI 1
#define HEARTH_MM_PANELS 2
#include "backend/cpu/matmul_x86_kernels.h"

#include "core/error.h"

namespace hearth::cpu::detail {

void matmul_avx512(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                   int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_dispatch(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
}

}  // namespace hearth::cpu::detail
