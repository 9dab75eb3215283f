// Reference dequantizers of the K-quant super-block formats (Q2_K .. Q6_K, Q8_K) and the Q8_K
// activation encoder. The float operation order matches llama.cpp's so results are bit-identical:
// the sub-block scale is formed first (d * sc), then multiplied by the level (and the min subtracted).
#include <algorithm>
#include <cmath>

#include "quant/quant_blocks.h"
#include "quant/quant_impl.h"

namespace hearth::quant::detail {

void dequantize_q2_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ2_K>(src, i);
        const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
        float* y = dst + i * kQKK;
        for (int e = 0; e < kQKK; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            const int q = (b.qs[h * 32 + l] >> (2 * s)) & 3;
            const int sb = e / 16;
            const float dl = d * static_cast<float>(b.scales[sb] & 0x0F);
            const float ml = dmin * static_cast<float>(b.scales[sb] >> 4);
            y[e] = dl * static_cast<float>(q) - ml;
        }
    }
}

void dequantize_q3_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ3_K>(src, i);
        const float d = fp16_to_fp32(b.d);
        float* y = dst + i * kQKK;
        for (int e = 0; e < kQKK; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            const int low = (b.qs[h * 32 + l] >> (2 * s)) & 3;
            const int high = (b.hmask[l] >> (e / 32)) & 1;
            const int q = low - (high ? 0 : 4);
            const float dl = d * static_cast<float>(unpack_scale_q3k(b.scales, e / 16) - 32);
            y[e] = dl * static_cast<float>(q);
        }
    }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ4_K>(src, i);
        const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
        float* y = dst + i * kQKK;
        for (int sb = 0; sb < 8; ++sb) {
            int sc, m;
            unpack_scale_min_k4(b.scales, sb, &sc, &m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            const int g = sb / 2, shift = 4 * (sb % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = (b.qs[g * 32 + l] >> shift) & 0x0F;
                y[sb * 32 + l] = d1 * static_cast<float>(q) - m1;
            }
        }
    }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ5_K>(src, i);
        const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
        float* y = dst + i * kQKK;
        for (int sb = 0; sb < 8; ++sb) {
            int sc, m;
            unpack_scale_min_k4(b.scales, sb, &sc, &m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            const int g = sb / 2, shift = 4 * (sb % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = ((b.qs[g * 32 + l] >> shift) & 0x0F) | (((b.qh[l] >> sb) & 1) << 4);
                y[sb * 32 + l] = d1 * static_cast<float>(q) - m1;
            }
        }
    }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ6_K>(src, i);
        const float d = fp16_to_fp32(b.d);
        float* y = dst + i * kQKK;
        for (int e = 0; e < kQKK; ++e) {
            const int h = e / 128, r = e % 128;
            const int low = (b.ql[h * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
            const int high = (b.qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
            const int q = (low | (high << 4)) - 32;
            const float dl = d * static_cast<float>(b.scales[e / 16]);
            y[e] = dl * static_cast<float>(q);
        }
    }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockQ8_K>(src, i);
        for (int e = 0; e < kQKK; ++e) dst[i * kQKK + e] = b.d * static_cast<float>(b.qs[e]);
    }
}

// Q8_K: d = amax / 127 (a float, not fp16), q = round(x / d), bsums per 16 elements.
void quantize_q8_k(const float* src, void* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float* x = src + i * kQKK;
        float amax = 0;
        for (int e = 0; e < kQKK; ++e) amax = std::max(amax, std::fabs(x[e]));
        BlockQ8_K b{};
        b.d = amax / 127.0f;
        const float id = b.d != 0 ? 1.0f / b.d : 0.0f;
        for (int e = 0; e < kQKK; ++e) b.qs[e] = static_cast<int8_t>(std::clamp(round_int(x[e] * id), -127, 127));
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int l = 0; l < 16; ++l) s += b.qs[g * 16 + l];
            b.bsums[g] = static_cast<int16_t>(s);
        }
        store_block(dst, i, b);
    }
}

}  // namespace hearth::quant::detail
