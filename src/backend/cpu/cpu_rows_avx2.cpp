// AVX2 versions of the elementwise row kernels in cpu_rows.h (8 floats per step, scalar tail);
// plain IEEE add/mul/div per element, bitwise equal to the scalar loops.
#include <immintrin.h>

#include "backend/cpu/cpu_rows.h"

namespace hearth::cpu::avx2 {

void binary_row(RowOp op, const float* a, const float* b, float* y, int64_t n) {
    int64_t i = 0;
    switch (op) {
        case RowOp::Add:
            for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
            for (; i < n; ++i) y[i] = a[i] + b[i];
            break;
        case RowOp::Mul:
            for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
            for (; i < n; ++i) y[i] = a[i] * b[i];
            break;
        case RowOp::Div:
            for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
            for (; i < n; ++i) y[i] = a[i] / b[i];
            break;
    }
}

void scale_row(const float* x, float k, float* y, int64_t n) {
    const __m256 vk = _mm256_set1_ps(k);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vk));
    for (; i < n; ++i) y[i] = x[i] * k;
}

void scale_mul_row(const float* x, float k, const float* w, float* y, int64_t n) {
    const __m256 vk = _mm256_set1_ps(k);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vk), _mm256_loadu_ps(w + i)));
    for (; i < n; ++i) y[i] = (x[i] * k) * w[i];
}

double sum_f64(const float* x, int64_t n, float shift, bool square) {
    // Accumulators 0..3 in lo, 4..7 in hi: the same additions as sum_f64_scalar.
    const __m256 vs = _mm256_set1_ps(shift);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    if (square) {
        for (; i + 8 <= n; i += 8) {
            const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), vs);
            const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(b, b));
        }
    } else {
        for (; i + 8 <= n; i += 8) {
            const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), vs);
            lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
            hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        }
    }
    alignas(32) double acc[8];
    _mm256_store_pd(acc, lo);
    _mm256_store_pd(acc + 4, hi);
    for (int j = 0; i < n; ++i, ++j) {
        const double d = static_cast<double>(x[i] - shift);
        acc[j] += square ? d * d : d;
    }
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

void rope_neox_row(const float* in, const float* cs, const float* sn, float* out, int64_t half) {
    int64_t i = 0;
    for (; i + 8 <= half; i += 8) {  // products then one add/sub each, as the scalar loop
        const __m256 a = _mm256_loadu_ps(in + i), b = _mm256_loadu_ps(in + i + half);
        const __m256 c = _mm256_loadu_ps(cs + i), s = _mm256_loadu_ps(sn + i);
        _mm256_storeu_ps(out + i, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
        _mm256_storeu_ps(out + i + half, _mm256_add_ps(_mm256_mul_ps(a, s), _mm256_mul_ps(b, c)));
    }
    for (; i < half; ++i) {
        const float a = in[i], b = in[i + half];
        out[i] = a * cs[i] - b * sn[i];
        out[i + half] = a * sn[i] + b * cs[i];
    }
}

}  // namespace hearth::cpu::avx2
