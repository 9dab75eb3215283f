// Helpers shared by the compute-core tests (test_core_*.cpp, test_ops_*.cpp): deterministic random
// leaves (F32 / F16 / BF16 / I32 / quantized via quant::quantize_row), host allocation, NMSE.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/context.h"
#include "core/tensor.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::testutil {

// A leaf filled with uniform values in [lo, hi) (converted/quantized to type), data owned by ctx.
inline Tensor* random_leaf(Context& ctx, std::mt19937& rng, DType type, std::initializer_list<int64_t> ne,
                           const char* name, float lo = -1.0f, float hi = 1.0f) {
    Tensor* t = ctx.new_tensor(type, ne, name);
    ctx.alloc_data(t);
    std::uniform_real_distribution<float> u(lo, hi);
    const int64_t n = t->ne[0];
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = 0; r < t->nrows(); ++r) {
        for (auto& v : row) v = u(rng);
        char* dst = static_cast<char*>(t->data) + r * t->nb[1];
        switch (type) {
            case DType::F32: std::memcpy(dst, row.data(), sizeof(float) * row.size()); break;
            case DType::F16:
                for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = fp32_to_fp16(row[i]);
                break;
            case DType::BF16:
                for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = fp32_to_bf16(row[i]);
                break;
            default: quant::quantize_row(type, row.data(), dst, n); break;
        }
    }
    return t;
}

inline Tensor* int_leaf(Context& ctx, const std::vector<int32_t>& v, const char* name) {
    Tensor* t = ctx.new_tensor(DType::I32, {static_cast<int64_t>(v.size())}, name);
    ctx.alloc_data(t);
    std::memcpy(t->data, v.data(), sizeof(int32_t) * v.size());
    return t;
}

// The values of an F32/I32 tensor in logical order (any strides).
inline std::vector<double> values(const Tensor& t) {
    std::vector<double> out;
    out.reserve(static_cast<size_t>(t.nelements()));
    for (int64_t i3 = 0; i3 < t.ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t.ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t.ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t.ne[0]; ++i0) {
                    const char* p = static_cast<const char*>(t.data) + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
                    if (t.type == DType::F32) {
                        float f;
                        std::memcpy(&f, p, 4);
                        out.push_back(f);
                    } else if (t.type == DType::F16 || t.type == DType::BF16) {
                        uint16_t h;
                        std::memcpy(&h, p, 2);
                        out.push_back(t.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h));
                    } else {
                        int32_t v;
                        std::memcpy(&v, p, 4);
                        out.push_back(v);
                    }
                }
    return out;
}

// Normalised mean squared error sum((a-b)^2) / sum(b^2) (b the reference); exact-zero reference
// rows compare by absolute error.
inline double nmse(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

}  // namespace hearth::testutil
