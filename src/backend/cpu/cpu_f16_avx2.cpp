// AVX2/F16C/FMA helpers of the compute core's float paths (F16/F32 mul_mat, flash-attention tiles,
// gated activations): half->float rows, dot products, a vectorised exp. Compiled with AVX2 flags (file suffix) and
// called only when the backend's ISA level is Avx2 or higher; see cpu_simd.h for the dispatch.
#include <immintrin.h>

#include <cmath>

#include "backend/cpu/cpu_simd.h"

namespace hearth::cpu::avx2 {
namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

}  // namespace

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(src + i));
    for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

float dot_f16_f32(const uint16_t* w, const float* x, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(load_f16(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load_f16(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16(w + i), _mm256_loadu_ps(x + i), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += _cvtsh_ss(w[i]) * x[i];
    return s;
}

float dot_f32(const float* a, const float* b, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
    const __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += alpha * x[i];
}

void dot_rows(const float* q, const float* k, int64_t n_rows, int64_t n, float* out) {
    int64_t j = 0;
    for (; j + 4 <= n_rows; j += 4) {  // four keys share each load of q
        const float* k0 = k + j * n;
        const float* k1 = k0 + n;
        const float* k2 = k1 + n;
        const float* k3 = k2 + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t d = 0;
        for (; d + 8 <= n; d += 8) {
            const __m256 qv = _mm256_loadu_ps(q + d);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + d), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + d), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + d), a3);
        }
        float r0 = hsum(a0), r1 = hsum(a1), r2 = hsum(a2), r3 = hsum(a3);
        for (; d < n; ++d) {
            r0 += q[d] * k0[d];
            r1 += q[d] * k1[d];
            r2 += q[d] * k2[d];
            r3 += q[d] * k3[d];
        }
        out[j] = r0;
        out[j + 1] = r1;
        out[j + 2] = r2;
        out[j + 3] = r3;
    }
    for (; j < n_rows; ++j) out[j] = dot_f32(q, k + j * n, n);
}

namespace {

// e^x for 8 floats: x = k*ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial
// (relative error ~1e-7), 2^k by building the exponent bits. Inputs below -87 give 0.
inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 zero_mask = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), lo);
    const __m256 kf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(0.693145751953125f), x);  // ln2 split hi/lo
    r = _mm256_fnmadd_ps(kf, _mm256_set1_ps(1.428606765330187045e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(kf), _mm256_set1_epi32(127)), 23);
    const __m256 v = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(zero_mask, v);
}

}  // namespace

// Every element goes through exp8 (the tail via a padded copy) and the sum runs in index order, so
// a value's exp and its share of the sum do not depend on where it sits in s: attention over a
// sequence's cells gives the same bits whatever other sequences' (zero) cells lie between them.
float exp_shifted_sum(float* s, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm)));
    if (j < n) {
        alignas(32) float t[8];
        for (int i = 0; i < 8; ++i) t[i] = j + i < n ? s[j + i] : -INFINITY;
        _mm256_store_ps(t, exp8(_mm256_sub_ps(_mm256_load_ps(t), vm)));
        for (int64_t i = 0; j + i < n; ++i) s[j + i] = t[i];
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += s[i];
    return sum;
}

void gated_row(bool gelu, const float* a, const float* b, float* y, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 k1 = _mm256_set1_ps(-2.0f * 0.79788456080286535588f);
    const __m256 k2 = _mm256_set1_ps(0.044715f);
    const __m256 neg1 = _mm256_set1_ps(-1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(a + i);
        // silu: x / (1 + e^-x); gelu (tanh form): x / (1 + e^(-2 sqrt(2/pi) (x + 0.044715 x^3)))
        const __m256 arg = gelu ? _mm256_mul_ps(_mm256_mul_ps(k1, x), _mm256_fmadd_ps(_mm256_mul_ps(k2, x), x, one))
                                : _mm256_mul_ps(neg1, x);
        const __m256 act = _mm256_div_ps(x, _mm256_add_ps(one, exp8(arg)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(act, _mm256_loadu_ps(b + i)));
    }
    for (; i < n; ++i) {
        const float x = a[i];
        const float arg = gelu ? -2.0f * 0.79788456080286535588f * x * (1.0f + 0.044715f * x * x) : -x;
        y[i] = x / (1.0f + std::exp(arg)) * b[i];
    }
}

void acc_weighted_rows(const float* p, const float* v, int64_t n_rows, int64_t n, float* acc) {
    int64_t d = 0;
    for (; d + 32 <= n; d += 32) {  // four 8-wide accumulators stay in registers over all rows
        __m256 a0 = _mm256_loadu_ps(acc + d), a1 = _mm256_loadu_ps(acc + d + 8);
        __m256 a2 = _mm256_loadu_ps(acc + d + 16), a3 = _mm256_loadu_ps(acc + d + 24);
        for (int64_t j = 0; j < n_rows; ++j) {
            if (p[j] == 0.0f) continue;
            const __m256 pj = _mm256_set1_ps(p[j]);
            const float* vr = v + j * n + d;
            a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr), a0);
            a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 8), a1);
            a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 16), a2);
            a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 24), a3);
        }
        _mm256_storeu_ps(acc + d, a0);
        _mm256_storeu_ps(acc + d + 8, a1);
        _mm256_storeu_ps(acc + d + 16, a2);
        _mm256_storeu_ps(acc + d + 24, a3);
    }
    for (; d < n; ++d) {
        float a = acc[d];
        for (int64_t j = 0; j < n_rows; ++j) a += p[j] * v[j * n + d];
        acc[d] = a;
    }
}

}  // namespace hearth::cpu::avx2
