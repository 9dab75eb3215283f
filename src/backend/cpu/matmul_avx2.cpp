// AVX2 (maddubs/madd) build of the x86 quantized matmul kernels; entry point detail::matmul_avx2.
#define HEARTH_MM_VNNI 0
#include "backend/cpu/matmul_x86_kernels.h"

#include "core/error.h"

namespace hearth::cpu::detail {

void matmul_avx2(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                 int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_dispatch(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
}

namespace {

// 32 values (v[4]) * id rounded to nearest-even (NaN -> 0, clamped to [-127, 127]) into q; returns
// the sums of q over the two halves in s0, s1. Same arithmetic as quantize32_scalar (matmul.cpp).
inline void quantize32_avx2(const __m256 v[4], __m256 id, int8_t* q, int32_t& s0, int32_t& s1) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i iv[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
        __m256 t = _mm256_mul_ps(v[i], id);
        t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q));  // NaN -> 0
        t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
        iv[i] = _mm256_cvtps_epi32(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // int32 -> int8 (values are already within [-127, 127])
    const __m256i p16a = _mm256_packs_epi32(iv[0], iv[1]), p16b = _mm256_packs_epi32(iv[2], iv[3]);
    const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), p8);
    const __m256i a = _mm256_add_epi32(iv[0], iv[1]), b = _mm256_add_epi32(iv[2], iv[3]);
    const __m256i h = _mm256_hadd_epi32(a, b);  // lanes: a pairs (0,1), b pairs (2,3), ... per 128
    const __m256i h2 = _mm256_hadd_epi32(h, h);
    // h2 lane 0: a low-128 sum, lane 1: b low-128 sum, lane 4: a high-128, lane 5: b high-128
    alignas(32) int32_t t[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), h2);
    s0 = t[0] + t[4];
    s1 = t[1] + t[5];
}

// max |v| over n vectors; max_ps returns its second operand when either is NaN, so folding into the
// accumulator as the second operand ignores NaN inputs, as the scalar fmax / '>' do.
inline float abs_max_avx2(const __m256* v, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    return _mm_cvtss_f32(m4);
}

}  // namespace

// One activation row (k floats) -> the Q8 row layout of matmul_internal.h per the scheme
// (ActScheme); bit-identical to the scalar path.
void quantize_act_row_avx2(ActScheme scheme, const float* x, int64_t k, uint8_t* base) {
    const int64_t nb = k / 32;
    const ActRowOut o = act_row_out(base, k);
    int8_t* q = o.q;
    if (scheme == ActScheme::PerBlock256) {
        const __m256 sign = _mm256_set1_ps(-0.0f);
        for (int64_t g = 0; g < nb / 8; ++g) {
            const float* xg = x + 256 * g;
            __m256 v[32];
            for (int i = 0; i < 32; ++i) v[i] = _mm256_loadu_ps(xg + 8 * i);
            const float amax = abs_max_avx2(v, 32);
            float m = 0.0f;
            if (amax > 0.0f) {  // the first value whose |x| is amax, as the scalar scan finds it
                const __m256 am = _mm256_set1_ps(amax);
                for (int i = 0; i < 32; ++i) {
                    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v[i]), am, _CMP_EQ_OQ));
                    if (mask) {
                        m = xg[8 * i + __builtin_ctz(static_cast<unsigned>(mask))];
                        break;
                    }
                }
            }
            const float is = amax > 0.0f ? -127.0f / m : 0.0f;
            const float dg = amax > 0.0f ? 1.0f / is : 0.0f;
            const __m256 id = _mm256_set1_ps(is);
            for (int64_t j = 0; j < 8; ++j) {
                const int64_t b = 8 * g + j;
                int32_t s0, s1;
                quantize32_avx2(v + 4 * j, id, q + 32 * b, s0, s1);
                store_block(o, b, dg, dg * static_cast<float>(s0 + s1), s0, s1);
            }
        }
        return;
    }
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + 32 * b;
        __m256 v[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
        const float amax = abs_max_avx2(v, 4);
        const float db = amax / 127.0f;
        int32_t s0, s1;
        quantize32_avx2(v, _mm256_set1_ps(db > 0.0f ? 127.0f / amax : 0.0f), q + 32 * b, s0, s1);
        const float dr = round_scale_fp16(db);
        store_block(o, b, dr,
                    scheme == ActScheme::PerBlock32Sum ? round_scale_fp16(db * static_cast<float>(s0 + s1))
                                                       : dr * static_cast<float>(s0 + s1),
                    s0, s1);
    }
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
