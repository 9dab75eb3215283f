// Small shared pieces of the x86 matmul kernels (int8 dot primitives, reductions, tail loads).
// Included ONLY by matmul_avx2.cpp / matmul_avx512.cpp, inside an anonymous namespace, so each ISA
// build keeps its own copy; HEARTH_MM_VNNI selects vpdpbusd instead of the maddubs/madd pair.
#pragma once

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/matmul_x86_decode.h"
#include "core/error.h"

namespace hearth::cpu {
namespace {

using detail::act_row;
using detail::ActRow;
using detail::thread_scratch;

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// acc + sum over 4-byte groups of u (unsigned, <= 127 without VNNI) * a (signed)
inline __m256i dot_u8(__m256i acc, __m256i u, __m256i a) {
#if HEARTH_MM_VNNI
    return _mm256_dpbusd_epi32(acc, u, a);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
#endif
}
// same with signed weights q (|q| <= 128)
inline __m256i dot_s8(__m256i acc, __m256i q, __m256i a) {
    return dot_u8(acc, _mm256_abs_epi8(q), _mm256_sign_epi8(a, q));
}

#if HEARTH_MM_VNNI
// int32 -> float for 512-bit vectors. The zero-masked form with a full mask is the same instruction;
// it avoids GCC 12's false -Wmaybe-uninitialized from the unmasked intrinsic's undefined source.
inline __m512 cvt512(__m512i v) { return _mm512_maskz_cvtepi32_ps(static_cast<__mmask16>(0xFFFF), v); }
#endif

inline float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// p[0..n) in lanes 0..n-1, zeros above (never reads past p + n).
inline __m256 load_or_zero_tail(const float* p, int n) {
    if (n == 8) return _mm256_loadu_ps(p);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}

}  // namespace
}  // namespace hearth::cpu
