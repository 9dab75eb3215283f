// Elementwise row kernels of the CPU backend (a+b, a*b, a/b, x*k) with a scalar version and an
// AVX2 version (cpu_rows_avx2.cpp) picked by the backend's ISA level. Each output is one IEEE
// operation on its inputs, so every level gives bitwise the same result.
#pragma once

#include <cstdint>

#include "backend/cpu/cpu_simd.h"

namespace hearth::cpu {

enum class RowOp { Add, Mul, Div };

namespace avx2 {
void binary_row(RowOp op, const float* a, const float* b, float* y, int64_t n);
void scale_row(const float* x, float k, float* y, int64_t n);
}  // namespace avx2

inline void binary_row(Isa isa, RowOp op, const float* a, const float* b, float* y, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::binary_row(op, a, b, y, n);
#endif
    (void)isa;
    switch (op) {
        case RowOp::Add: for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i]; break;
        case RowOp::Mul: for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i]; break;
        case RowOp::Div: for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i]; break;
    }
}

inline void scale_row(Isa isa, const float* x, float k, float* y, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::scale_row(x, k, y, n);
#endif
    (void)isa;
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * k;
}

}  // namespace hearth::cpu
