// AVX-512 activation quantizer: one row of k floats -> the Q8 row layout of matmul_internal.h
// (per ActScheme), two zmm per 32-value block. Byte-identical to the scalar and AVX2 quantizers
// (same products, NaN -> 0, clamp, round-to-nearest-even; max and integer sums are exact).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "backend/cpu/matmul_internal.h"

namespace hearth::cpu::detail {
namespace {

inline __m512 abs16(__m512 v) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), v); }

// max over lanes of max(|a|, |b|, 0); NaN lanes are dropped (max_ps returns its second operand
// when either is NaN, and the accumulator is always the second operand), as the scalar fmax does.
inline float abs_max32(__m512 a, __m512 b) {
    __m512 m = _mm512_max_ps(abs16(a), _mm512_setzero_ps());
    m = _mm512_max_ps(abs16(b), m);
    return _mm512_reduce_max_ps(m);
}

// 16 values * id rounded to nearest-even (NaN -> 0, clamped to [-127, 127]) into q; returns the sum.
inline int32_t quantize16(__m512 v, __m512 id, int8_t* q) {
    __m512 t = _mm512_mul_ps(v, id);
    t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    const __m512i iv = _mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(iv));
    return _mm512_reduce_add_epi32(iv);
}

}  // namespace

void quantize_act_row_avx512(ActScheme scheme, const float* x, int64_t k, uint8_t* base) {
    const int64_t nb = k / 32;
    const ActRowOut o = act_row_out(base, k);
    int8_t* q = o.q;
    if (scheme == ActScheme::PerBlock256) {
        for (int64_t g = 0; g < nb / 8; ++g) {
            const float* xg = x + 256 * g;
            __m512 v[16];
            __m512 m = _mm512_setzero_ps();
            for (int i = 0; i < 16; ++i) {
                v[i] = _mm512_loadu_ps(xg + 16 * i);
                m = _mm512_max_ps(abs16(v[i]), m);
            }
            const float amax = _mm512_reduce_max_ps(m);
            float mv = 0.0f;
            if (amax > 0.0f) {  // the first value whose |x| is amax, as the scalar scan finds it
                const __m512 am = _mm512_set1_ps(amax);
                for (int i = 0; i < 16; ++i) {
                    const __mmask16 hit = _mm512_cmp_ps_mask(abs16(v[i]), am, _CMP_EQ_OQ);
                    if (hit) {
                        mv = xg[16 * i + __builtin_ctz(static_cast<unsigned>(hit))];
                        break;
                    }
                }
            }
            const float is = amax > 0.0f ? -127.0f / mv : 0.0f;
            const float dg = amax > 0.0f ? 1.0f / is : 0.0f;
            const __m512 id = _mm512_set1_ps(is);
            for (int64_t j = 0; j < 8; ++j) {
                const int64_t b = 8 * g + j;
                const int32_t s0 = quantize16(v[2 * j], id, q + 32 * b);
                const int32_t s1 = quantize16(v[2 * j + 1], id, q + 32 * b + 16);
                store_block(o, b, dg, dg * static_cast<float>(s0 + s1), s0, s1);
            }
        }
        return;
    }
    for (int64_t b = 0; b < nb; ++b) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        const float amax = abs_max32(v0, v1);
        const float db = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(db > 0.0f ? 127.0f / amax : 0.0f);
        const int32_t s0 = quantize16(v0, id, q + 32 * b);
        const int32_t s1 = quantize16(v1, id, q + 32 * b + 16);
        const float dr = round_scale_fp16(db);
        store_block(o, b, dr,
                    scheme == ActScheme::PerBlock32Sum ? round_scale_fp16(db * static_cast<float>(s0 + s1))
                                                       : dr * static_cast<float>(s0 + s1),
                    s0, s1);
    }
}

}  // namespace hearth::cpu::detail
