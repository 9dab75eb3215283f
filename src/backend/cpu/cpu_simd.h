// Float-path primitives of the CPU backend (dot products, half->float rows, axpy) with a portable
// scalar version and, on x86-64 builds, AVX2 versions (cpu_f16_avx2.cpp) picked by the backend's
// ISA level at run time. Results may differ in the last bits between levels (summation order).
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/cpu/cpu_features.h"

namespace hearth::cpu {

namespace avx2 {  // defined only in x86-64 builds (HEARTH_X86)
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);  // round to nearest even
float dot_f16_f32(const uint16_t* w, const float* x, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
// acc[d] += sum_j p[j] * v[j*n + d] for d < n, j < n_rows (v: n_rows rows of n floats).
void acc_weighted_rows(const float* p, const float* v, int64_t n_rows, int64_t n, float* acc);
// out[j] = dot(q, k[j*n .. j*n+n)) for j < n_rows.
void dot_rows(const float* q, const float* k, int64_t n_rows, int64_t n, float* out);
// s[j] = exp(s[j] - m) (0 where s[j] - m < -87, e.g. -inf); returns the sum.
float exp_shifted_sum(float* s, int64_t n, float m);
// y = act(a) * b with act = gelu (tanh form) or silu; packed rows of n floats.
void gated_row(bool gelu, const float* a, const float* b, float* y, int64_t n);
}  // namespace avx2

namespace scalar {
float dot_f32(const float* a, const float* b, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);  // table based
}  // namespace scalar

inline bool use_avx2(Isa isa) {
#if defined(HEARTH_X86)
    return isa != Isa::Scalar;
#else
    (void)isa;
    return false;
#endif
}

inline float dot_f32(Isa isa, const float* a, const float* b, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::dot_f32(a, b, n);
#endif
    (void)isa;
    return scalar::dot_f32(a, b, n);
}

inline void f16_to_f32(Isa isa, const uint16_t* src, float* dst, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::f16_to_f32(src, dst, n);
#endif
    (void)isa;
    scalar::f16_to_f32(src, dst, n);
}

inline void axpy_f32(Isa isa, float alpha, const float* x, float* y, int64_t n) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::axpy_f32(alpha, x, y, n);
#endif
    (void)isa;
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

inline void dot_rows(Isa isa, const float* q, const float* k, int64_t n_rows, int64_t n, float* out) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::dot_rows(q, k, n_rows, n, out);
#endif
    for (int64_t j = 0; j < n_rows; ++j) out[j] = scalar::dot_f32(q, k + j * n, n);
}

inline float exp_shifted_sum(Isa isa, float* s, int64_t n, float m) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::exp_shifted_sum(s, n, m);
#endif
    (void)isa;
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = s[j] - m < -87.0f ? 0.0f : std::exp(s[j] - m);
        sum += s[j];
    }
    return sum;
}

inline void acc_weighted_rows(Isa isa, const float* p, const float* v, int64_t n_rows, int64_t n, float* acc) {
#if defined(HEARTH_X86)
    if (use_avx2(isa)) return avx2::acc_weighted_rows(p, v, n_rows, n, acc);
#endif
    (void)isa;
    for (int64_t j = 0; j < n_rows; ++j) {
        if (p[j] == 0.0f) continue;
        for (int64_t d = 0; d < n; ++d) acc[d] += p[j] * v[j * n + d];
    }
}

}  // namespace hearth::cpu
