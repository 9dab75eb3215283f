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

uint64_t stream_read_avx2(const void* p, size_t bytes) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 96)));
    }
    const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    alignas(32) uint64_t t[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), s);
    return t[0] + t[1] + t[2] + t[3];
}

}  // namespace hearth::cpu::detail
