// AVX-512 activation quantizer: one row of k floats -> the Q8 row layout of matmul_internal.h
// (per ActScheme), two zmm per 32-value block. Byte-identical to the scalar and AVX2 quantizers
// (same products, NaN -> 0, clamp, round-to-nearest-even; max and integer sums are exact).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <limits>

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

// 16 values * id rounded to nearest-even (NaN -> 0, clamped to [-127, 127]) into q; returns the
// integers (quantize16 sums them; quantize_16_blocks sums 16 blocks' at once).
inline __m512i quantize16_values(__m512 v, __m512 id, int8_t* q) {
    __m512 t = _mm512_mul_ps(v, id);
    t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    const __m512i iv = _mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(iv));
    return iv;
}

// The same, returning the sum of the integers.
inline int32_t quantize16(__m512 v, __m512 id, int8_t* q) { return _mm512_reduce_add_epi32(quantize16_values(v, id, q)); }

// Transposed lane reduction of 16 vectors: lane i of the result = all 16 lanes of a[i] combined
// by op (max of non-NaN floats, or integer add: both exact, so the grouping does not matter).
// Four shuffle stages halve the lanes per vector while doubling the vectors per register; lane
// 4c + l then holds a[c + 4l], which one permute puts in natural order.
template <class V, class Op>
inline V reduce16_transposed(const V* a, Op op) {
    auto ps = [](V v) { return reinterpret_cast<__m512>(v); };
    auto back = [](__m512 v) { return reinterpret_cast<V>(v); };
    V t[8], u[4], w[2];
    for (int i = 0; i < 8; ++i)  // 256-bit halves: chunks 0-1 <- a[2i], chunks 2-3 <- a[2i+1]
        t[i] = op(back(_mm512_shuffle_f32x4(ps(a[2 * i]), ps(a[2 * i + 1]), 0x44)),
                  back(_mm512_shuffle_f32x4(ps(a[2 * i]), ps(a[2 * i + 1]), 0xEE)));
    for (int j = 0; j < 4; ++j)  // 128-bit chunks: chunk c <- a[4j + c]
        u[j] = op(back(_mm512_shuffle_f32x4(ps(t[2 * j]), ps(t[2 * j + 1]), 0x88)),
                  back(_mm512_shuffle_f32x4(ps(t[2 * j]), ps(t[2 * j + 1]), 0xDD)));
    for (int k = 0; k < 2; ++k)  // lane pairs: chunk c lanes 0-1 <- a[8k + c], lanes 2-3 <- a[8k + 4 + c]
        w[k] = op(back(_mm512_shuffle_ps(ps(u[2 * k]), ps(u[2 * k + 1]), 0x44)),
                  back(_mm512_shuffle_ps(ps(u[2 * k]), ps(u[2 * k + 1]), 0xEE)));
    const V r = op(back(_mm512_shuffle_ps(ps(w[0]), ps(w[1]), 0x88)), back(_mm512_shuffle_ps(ps(w[0]), ps(w[1]), 0xDD)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return back(_mm512_permutexvar_ps(order, ps(r)));
}

// round_scale_fp16 on 16 lanes: fp16(v) (round to nearest even, as fp32_to_fp16) as a float, or v
// itself where that is not finite or is zero for a non-zero v.
inline __m512 round_scale_fp16_x16(__m512 v) {
    const __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __mmask16 finite = _mm512_cmp_ps_mask(abs16(r), _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
    const __mmask16 keep = finite & (_mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_NEQ_UQ) |
                                     _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_EQ_OQ));
    return _mm512_mask_blend_ps(keep, v, r);
}

// Sixteen 32-value blocks [b0, b0 + 16) of a per-32 scheme at once: the block maxima and the
// integer sums come from transposed reductions instead of one horizontal reduction per block, and
// the per-block outputs are stored as vectors; every value is the one the per-block loop gives.
void quantize_16_blocks(ActScheme scheme, const float* x, const ActRowOut& o, int64_t b0) {
    __m512 m[16];
    for (int b = 0; b < 16; ++b) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        m[b] = _mm512_max_ps(abs16(v1), _mm512_max_ps(abs16(v0), _mm512_setzero_ps()));  // as abs_max32
    }
    const __m512 amax = reduce16_transposed(m, [](__m512 a, __m512 b) { return _mm512_max_ps(a, b); });
    const __m512 db = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    const __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(db, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(127.0f), amax);
    alignas(64) float idb[16];
    _mm512_store_ps(idb, id);
    __m512i s0v[16], s1v[16];
    int8_t* q = o.q + 32 * b0;
    for (int b = 0; b < 16; ++b) {
        const __m512 ib = _mm512_set1_ps(idb[b]);
        s0v[b] = quantize16_values(_mm512_loadu_ps(x + 32 * b), ib, q + 32 * b);
        s1v[b] = quantize16_values(_mm512_loadu_ps(x + 32 * b + 16), ib, q + 32 * b + 16);
    }
    auto add = [](__m512i a, __m512i b) { return _mm512_add_epi32(a, b); };
    const __m512i s0 = reduce16_transposed(s0v, add), s1 = reduce16_transposed(s1v, add);
    const __m512i s = _mm512_add_epi32(s0, s1);
    const __m512 dr = round_scale_fp16_x16(db);
    const __m512 ds32 = scheme == ActScheme::PerBlock32Sum ? round_scale_fp16_x16(_mm512_mul_ps(db, _mm512_cvtepi32_ps(s)))
                                                           : _mm512_mul_ps(dr, _mm512_cvtepi32_ps(s));
    _mm512_storeu_ps(o.d + b0, dr);
    _mm512_storeu_ps(o.ds32 + b0, ds32);
    _mm512_storeu_si512(o.ns32 + b0, _mm512_sub_epi32(_mm512_setzero_si512(), s));
    // Interleaved per-16 halves: [2b] <- s0 of block b, [2b + 1] <- s1.
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 p0 = _mm512_mul_ps(dr, _mm512_cvtepi32_ps(s0)), p1 = _mm512_mul_ps(dr, _mm512_cvtepi32_ps(s1));
    _mm512_storeu_ps(o.ds16 + 2 * b0, _mm512_permutex2var_ps(p0, lo, p1));
    _mm512_storeu_ps(o.ds16 + 2 * b0 + 16, _mm512_permutex2var_ps(p0, hi, p1));
    const __m512i n0 = _mm512_sub_epi32(_mm512_setzero_si512(), s0), n1 = _mm512_sub_epi32(_mm512_setzero_si512(), s1);
    _mm512_storeu_si512(o.ns16 + 2 * b0, _mm512_permutex2var_epi32(n0, lo, n1));
    _mm512_storeu_si512(o.ns16 + 2 * b0 + 16, _mm512_permutex2var_epi32(n0, hi, n1));
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
    int64_t b = 0;
    for (; b + 16 <= nb; b += 16) quantize_16_blocks(scheme, x + 32 * b, o, b);
    for (; b < nb; ++b) {
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
