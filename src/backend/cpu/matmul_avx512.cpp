// AVX-512 VNNI (vpdpbusd on 256-bit vectors, 32 registers) build of the x86 quantized matmul
// kernels; entry point detail::matmul_avx512.
#define HEARTH_MM_VNNI 1
// GCC 12's AVX-512 headers build "undefined" vectors from a self-initialised local (__Y), which
// -W(maybe-)uninitialized reports wherever those intrinsics are inlined (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "backend/cpu/matmul_x86_kernels.h"

#include "core/error.h"

namespace hearth::cpu::detail {

void matmul_avx512(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                   int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_dispatch(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
}

uint64_t stream_read_avx512(const void* p, size_t bytes) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    __m512i a0 = _mm512_set1_epi64(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes; i += 256) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(b + i));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(b + i + 64));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(b + i + 128));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(b + i + 192));
    }
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
}

}  // namespace hearth::cpu::detail
