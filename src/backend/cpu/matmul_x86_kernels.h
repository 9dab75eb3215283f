// x86 quantized matmul: per weight format, the panel kernel (matmul_x86_panels.h) for every number
// of activation columns, so each output has one fma chain whatever the batch (batch invariance;
// fast decode comes from the repacked weights of repack.h). Included ONLY by matmul_avx2.cpp /
// matmul_avx512.cpp (anonymous namespace); they define HEARTH_MM_VNNI first.
#pragma once

#include "backend/cpu/matmul_x86_panels.h"

namespace hearth::cpu {
namespace {

template <class F>
void matmul_fmt(const void* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                float* out, int64_t out_stride) {
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    matmul_panels<F>(wb, wrb, a_q, k, n, r0, r1, out, out_stride);
}

inline void matmul_dispatch(DType t, const void* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0,
                            int64_t r1, float* out, int64_t out_stride) {
    switch (t) {
        case DType::Q4_0: return matmul_fmt<FmtQ4_0>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_1: return matmul_fmt<FmtQ4_1>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_0: return matmul_fmt<FmtQ5_0>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_1: return matmul_fmt<FmtQ5_1>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q8_0: return matmul_fmt<FmtQ8_0>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_NL: return matmul_fmt<FmtIQ4_NL>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q2_K: return matmul_fmt<FmtQ2_K>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q3_K: return matmul_fmt<FmtQ3_K>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_K: return matmul_fmt<FmtQ4_K>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_K: return matmul_fmt<FmtQ5_K>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q6_K: return matmul_fmt<FmtQ6_K>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_XS: return matmul_fmt<FmtIQ4_XS>(w, wrb, a_q, k, n, r0, r1, out, out_stride);
        default: HEARTH_ASSERT_MSG(false, "x86 matmul: unsupported type");
    }
}

}  // namespace
}  // namespace hearth::cpu
