// AVX2 (maddubs/madd) build of the x86 quantized matmul kernels; entry point detail::matmul_avx2.
#define HEARTH_MM_VNNI 0
#define HEARTH_MM_PANELS 1
#include "backend/cpu/matmul_x86_kernels.h"

#include "core/error.h"

namespace hearth::cpu::detail {

void matmul_avx2(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                 int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_dispatch(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
}

}  // namespace hearth::cpu::detail
