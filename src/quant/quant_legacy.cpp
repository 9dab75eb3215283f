// Reference (de)quantizers of the 32-element "legacy" block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q8_1. Without importance weights the encoders follow the classic max/min formulas (byte-identical
// to llama.cpp's reference encoders); with weights they run the weighted least-squares searches.
#include <algorithm>
#include <cmath>

#include "quant/quant_blocks.h"
#include "quant/quant_impl.h"
#include "quant/quant_search.h"

namespace hearth::quant::detail {
namespace {

// Unpack 32 nibbles in Q4_0 order (low nibbles: elements 0..15, high nibbles: 16..31).
inline void unpack_nibbles(const uint8_t* qs, int* q) {
    for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 0x0F;
        q[j + 16] = qs[j] >> 4;
    }
}
inline void pack_nibbles(const int* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}
inline uint32_t load_u32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void store_u32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// (int8_t)v as llama.cpp's reference encoders truncate, defined for every input: out-of-range and
// NaN values (only reachable with magnitudes near FLT_MAX, where the scale overflows) saturate/zero.
inline int trunc_int8(float v) {
    if (!(v > -128.0f)) return v == v ? -128 : 0;
    if (!(v < 128.0f)) return 127;
    return static_cast<int>(static_cast<int8_t>(v));
}

// The element of largest magnitude, with its sign (first one on ties).
inline float signed_absmax(const float* x, int n) {
    float amax = 0, maxv = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            maxv = x[i];
        }
    }
    return maxv;
}

// Symmetric 2^bits-level block (Q4_0 / Q5_0): q in [0, 2^bits), x = d * (q - 2^(bits-1)).
void encode_symmetric(const float* x, const float* importance, int64_t offset, int bits, float* d_out, int* q) {
    const int half = 1 << (bits - 1);
    if (importance) {
        float w[kQK];
        int8_t L[kQK];
        block_weights(importance, offset, kQK, w);
        const float d = fit_symmetric(x, w, kQK, -half, half - 1, L, 10);
        *d_out = fp16_round(d);
        const float id = *d_out != 0 ? 1.0f / *d_out : 0.0f;
        for (int j = 0; j < kQK; ++j) q[j] = std::clamp(round_int(x[j] * id), -half, half - 1) + half;
        return;
    }
    const float maxv = signed_absmax(x, kQK);
    const float d = maxv / static_cast<float>(-half);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    *d_out = d;
    for (int j = 0; j < kQK; ++j) {
        const float v = x[j] * id + (static_cast<float>(half) + 0.5f);
        q[j] = std::min(2 * half - 1, trunc_int8(v));
    }
}

// Asymmetric block (Q4_1 / Q5_1): x = d * q + m, q in [0, nmax].
void encode_asymmetric(const float* x, const float* importance, int64_t offset, int nmax, float* d_out,
                       float* m_out, int* q) {
    if (importance) {
        float w[kQK];
        uint8_t L[kQK];
        float a, b;
        block_weights(importance, offset, kQK, w);
        fit_asymmetric(x, w, kQK, nmax, false, L, &a, &b, 10);
        *d_out = fp16_round(a);
        *m_out = fp16_round(b);
        const float id = *d_out != 0 ? 1.0f / *d_out : 0.0f;
        for (int j = 0; j < kQK; ++j) q[j] = std::clamp(round_int((x[j] - *m_out) * id), 0, nmax);
        return;
    }
    float mn = x[0], mx = x[0];
    for (int j = 1; j < kQK; ++j) {
        mn = std::min(mn, x[j]);
        mx = std::max(mx, x[j]);
    }
    const float d = (mx - mn) / static_cast<float>(nmax);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    *d_out = d;
    *m_out = mn;
    for (int j = 0; j < kQK; ++j) {
        const float v = (x[j] - mn) * id + 0.5f;
        q[j] = std::min(nmax, trunc_int8(v));
    }
}

}  // namespace

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ4_0>(src, i);
        const float d = fp16_to_fp32(b.d);
        int q[kQK];
        unpack_nibbles(b.qs, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = d * static_cast<float>(q[j] - 8);
    }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ4_1>(src, i);
        const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
        int q[kQK];
        unpack_nibbles(b.qs, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = d * static_cast<float>(q[j]) + m;
    }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ5_0>(src, i);
        const float d = fp16_to_fp32(b.d);
        const uint32_t qh = load_u32(b.qh);
        int q[kQK];
        unpack_nibbles(b.qs, q);
        for (int j = 0; j < kQK; ++j) {
            const int v = q[j] | static_cast<int>(((qh >> j) & 1u) << 4);
            dst[i * kQK + j] = d * static_cast<float>(v - 16);
        }
    }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ5_1>(src, i);
        const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
        const uint32_t qh = load_u32(b.qh);
        int q[kQK];
        unpack_nibbles(b.qs, q);
        for (int j = 0; j < kQK; ++j) {
            const int v = q[j] | static_cast<int>(((qh >> j) & 1u) << 4);
            dst[i * kQK + j] = d * static_cast<float>(v) + m;
        }
    }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ8_0>(src, i);
        const float d = fp16_to_fp32(b.d);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = static_cast<float>(b.qs[j]) * d;
    }
}

void dequantize_q8_1(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockQ8_1>(src, i);
        const float d = fp16_to_fp32(b.d);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = static_cast<float>(b.qs[j]) * d;
    }
}

void quantize_q4_0(const float* src, void* dst, int64_t n, const float* importance) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        BlockQ4_0 b{};
        float d;
        int q[kQK];
        encode_symmetric(src + i * kQK, importance, i * kQK, 4, &d, q);
        b.d = fp32_to_fp16(d);
        pack_nibbles(q, b.qs);
        store_block(dst, i, b);
    }
}

void quantize_q4_1(const float* src, void* dst, int64_t n, const float* importance) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        BlockQ4_1 b{};
        float d, m;
        int q[kQK];
        encode_asymmetric(src + i * kQK, importance, i * kQK, 15, &d, &m, q);
        b.d = fp32_to_fp16(d);
        b.m = fp32_to_fp16(m);
        pack_nibbles(q, b.qs);
        store_block(dst, i, b);
    }
}

void quantize_q5_0(const float* src, void* dst, int64_t n, const float* importance) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        BlockQ5_0 b{};
        float d;
        int q[kQK];
        encode_symmetric(src + i * kQK, importance, i * kQK, 5, &d, q);
        b.d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        store_u32(b.qh, qh);
        pack_nibbles(q, b.qs);
        store_block(dst, i, b);
    }
}

void quantize_q5_1(const float* src, void* dst, int64_t n, const float* importance) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        BlockQ5_1 b{};
        float d, m;
        int q[kQK];
        encode_asymmetric(src + i * kQK, importance, i * kQK, 31, &d, &m, q);
        b.d = fp32_to_fp16(d);
        b.m = fp32_to_fp16(m);
        uint32_t qh = 0;
        for (int j = 0; j < kQK; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        store_u32(b.qh, qh);
        pack_nibbles(q, b.qs);
        store_block(dst, i, b);
    }
}

// Q8_0 / Q8_1: d = amax / 127, q = round(x / d) (half away from zero).
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float amax = 0;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        BlockQ8_0 b{};
        b.d = fp32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(round_int(x[j] * id));
        store_block(dst, i, b);
    }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float amax = 0;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        BlockQ8_1 b{};
        int sum = 0;
        for (int j = 0; j < kQK; ++j) {
            b.qs[j] = static_cast<int8_t>(round_int(x[j] * id));
            sum += b.qs[j];
        }
        b.d = fp32_to_fp16(d);
        b.s = fp32_to_fp16(static_cast<float>(sum) * d);
        store_block(dst, i, b);
    }
}

}  // namespace hearth::quant::detail
