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

}  // namespace hearth::cpu::avx2
