// Row kernels of the CPU backend (a+b, a*b, a/b, x*k, and the double sums of the norms) with a
// scalar version and an AVX2 version (cpu_rows_avx2.cpp) picked by the backend's ISA level. Each
// output is computed by the same IEEE operations in the same order on every level, so all levels
// give bitwise the same result.
#pragma once

#include <cstdint>

#include "backend/cpu/cpu_simd.h"

namespace hearth::cpu {

enum class RowOp { Add, Mul, Div };

namespace avx2 {
void binary_row(RowOp op, const float* a, const float* b, float* y, int64_t n);
void scale_row(const float* x, float k, float* y, int64_t n);
void scale_mul_row(const float* x, float k, const float* w, float* y, int64_t n);
double sum_f64(const float* x, int64_t n, float shift, bool square);
void rope_neox_row(const float* in, const float* cs, const float* sn, float* out, int64_t half);
}  // namespace avx2

// NeoX rotation of one head row: pairs (i, i + half) rotated by (cs[i], sn[i]); out may be in.
inline void rope_neox_row(Isa isa, const float* in, const float* cs, const float* sn, float* out, int64_t half) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::rope_neox_row(in, cs, sn, out, half);
#endif
    (void)isa;
    for (int64_t i = 0; i < half; ++i) {
        const float a = in[i], b = in[i + half];
        out[i] = a * cs[i] - b * sn[i];
        out[i + half] = a * sn[i] + b * cs[i];
    }
}

// Sum over i < n of d = double(x[i] - shift), or of d*d when `square`, over 8 accumulators (element
// i goes to accumulator i % 8 of its 8-element step; the tail to accumulators 0, 1, ...) combined in
// one fixed order: no long dependency chain (a 128-float head row was latency bound).
inline double sum_f64_scalar(const float* x, int64_t n, float shift, bool square) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) {
            const double d = static_cast<double>(x[i + j] - shift);
            acc[j] += square ? d * d : d;
        }
    for (int j = 0; i < n; ++i, ++j) {
        const double d = static_cast<double>(x[i] - shift);
        acc[j] += square ? d * d : d;
    }
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

inline double sum_f64(Isa isa, const float* x, int64_t n, float shift, bool square) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::sum_f64(x, n, shift, square);
#endif
    (void)isa;
    return sum_f64_scalar(x, n, shift, square);
}

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

// y[i] = (x[i] * k) * w[i]: scale_row then a Mul by w, in one pass (fused rms_norm x weight).
inline void scale_mul_row(Isa isa, const float* x, float k, const float* w, float* y, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::scale_mul_row(x, k, w, y, n);
#endif
    (void)isa;
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * k) * w[i];
}

}  // namespace hearth::cpu
