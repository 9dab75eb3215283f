// Float-path primitives of the CPU backend (dot products, half->float rows, axpy) with a portable
// scalar version and, on x86-64 builds, AVX2 versions (cpu_f16_avx2.cpp) picked by the backend's
// ISA level at run time. Results may differ in the last bits between levels (summation order).
#pragma once

#include <cstdint>

#include "backend/cpu/cpu_features.h"

namespace hearth::cpu {

namespace avx2 {  // defined only in x86-64 builds (HEARTH_X86)
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
float dot_f16_f32(const uint16_t* w, const float* x, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
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

}  // namespace hearth::cpu
