// Reference (de)quantizers of the non-linear 4-bit formats IQ4_NL (32-element blocks, one fp16
// scale) and IQ4_XS (256-element super-blocks, 8 sub-blocks with 6-bit scales). Both map a nibble
// through the fixed level table kIQ4Values; the encoders search scales by weighted least squares.
#include <algorithm>
#include <cmath>

#include "quant/quant_blocks.h"
#include "quant/quant_impl.h"
#include "quant/quant_search.h"

namespace hearth::quant::detail {
namespace {

const LevelTable& iq4_levels() {
    static const LevelTable table(kIQ4Values, 16);
    return table;
}

// Levels of n elements for the effective scale ds; returns the weighted squared error.
double assign_iq4(const float* x, const float* w, int n, float ds, uint8_t* L) {
    const LevelTable& levels = iq4_levels();
    const float inv = ds != 0 ? 1.0f / ds : 0.0f;
    double err = 0;
    for (int i = 0; i < n; ++i) {
        const int k = levels.nearest(x[i] * inv);
        L[i] = static_cast<uint8_t>(k);
        const double e = double(ds * static_cast<float>(kIQ4Values[k])) - x[i];
        err += w[i] * e * e;
    }
    return err;
}

}  // namespace

void dequantize_iq4_nl(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQK; ++i) {
        const auto b = load_block<BlockIQ4_NL>(src, i);
        const float d = fp16_to_fp32(b.d);
        for (int j = 0; j < 16; ++j) {
            dst[i * kQK + j] = d * static_cast<float>(kIQ4Values[b.qs[j] & 0x0F]);
            dst[i * kQK + j + 16] = d * static_cast<float>(kIQ4Values[b.qs[j] >> 4]);
        }
    }
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const auto b = load_block<BlockIQ4_XS>(src, i);
        const float d = fp16_to_fp32(b.d);
        for (int j = 0; j < 8; ++j) {
            const int ls = ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0F) | (((b.scales_h >> (2 * j)) & 3) << 4);
            const float dl = d * static_cast<float>(ls - 32);
            float* y = dst + i * kQKK + j * 32;
            for (int l = 0; l < 16; ++l) {
                y[l] = dl * static_cast<float>(kIQ4Values[b.qs[16 * j + l] & 0x0F]);
                y[l + 16] = dl * static_cast<float>(kIQ4Values[b.qs[16 * j + l] >> 4]);
            }
        }
    }
}

void quantize_iq4_nl(const float* src, void* dst, int64_t n, const float* importance) {
    float w[kQK];
    uint8_t L[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        block_weights(importance, i * kQK, kQK, w);
        const float d = fp16_round(fit_levels(x, w, kQK, iq4_levels(), L, 10));
        assign_iq4(x, w, kQK, d, L);
        BlockIQ4_NL b{};
        b.d = fp32_to_fp16(d);
        for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
        store_block(dst, i, b);
    }
}

void quantize_iq4_xs(const float* src, void* dst, int64_t n, const float* importance) {
    float w[kQKK];
    uint8_t L[kQKK], T[32];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        const float* x = src + i * kQKK;
        block_weights(importance, i * kQKK, kQKK, w);
        float a[8], amax = 0, maxv = 0;
        for (int j = 0; j < 8; ++j) {
            a[j] = fit_levels(x + 32 * j, w + 32 * j, 32, iq4_levels(), L + 32 * j, 10);
            if (std::fabs(a[j]) > amax) {
                amax = std::fabs(a[j]);
                maxv = a[j];
            }
        }
        // Integer scales ls - 32 in [-32, 31] against the fp16 factor d; refine each ±1 and d by
        // least squares, keeping changes that lower the error.
        float d = fp16_round(maxv / -32.0f);
        int ls[8] = {};
        for (int j = 0; j < 8; ++j) ls[j] = d != 0 ? clamp_round(a[j] / d, -32, 31) : 0;
        for (int round = 0; round < 2 && d != 0; ++round) {
            for (int j = 0; j < 8; ++j) {
                double cur = assign_iq4(x + 32 * j, w + 32 * j, 32, d * static_cast<float>(ls[j]), L + 32 * j);
                const int l0 = ls[j];
                for (int dl = -1; dl <= 1; dl += 2) {
                    const int c = l0 + dl;
                    if (c < -32 || c > 31) continue;
                    const double e = assign_iq4(x + 32 * j, w + 32 * j, 32, d * static_cast<float>(c), T);
                    if (e < cur) {
                        cur = e;
                        ls[j] = c;
                    }
                }
            }
            double err = 0, suu = 0, sux = 0;
            for (int j = 0; j < 8; ++j) err += assign_iq4(x + 32 * j, w + 32 * j, 32, d * static_cast<float>(ls[j]), L + 32 * j);
            for (int e = 0; e < kQKK; ++e) {
                const double u = double(ls[e / 32]) * kIQ4Values[L[e]];
                suu += w[e] * u * u;
                sux += w[e] * u * x[e];
            }
            if (suu > 0) {
                const float nd = fp16_round(static_cast<float>(sux / suu));
                double nerr = 0;
                uint8_t L2[kQKK];
                for (int j = 0; j < 8; ++j)
                    nerr += assign_iq4(x + 32 * j, w + 32 * j, 32, nd * static_cast<float>(ls[j]), L2 + 32 * j);
                if (nerr < err) {
                    d = nd;
                    std::copy(L2, L2 + kQKK, L);
                }
            }
        }
        for (int j = 0; j < 8; ++j) assign_iq4(x + 32 * j, w + 32 * j, 32, d * static_cast<float>(ls[j]), L + 32 * j);
        BlockIQ4_XS b{};
        b.d = fp32_to_fp16(d);
        for (int j = 0; j < 8; ++j) {
            const int stored = ls[j] + 32;
            b.scales_l[j / 2] |= static_cast<uint8_t>((stored & 0x0F) << (4 * (j % 2)));
            b.scales_h |= static_cast<uint16_t>(((stored >> 4) & 3) << (2 * j));
            for (int l = 0; l < 16; ++l)
                b.qs[16 * j + l] = static_cast<uint8_t>(L[32 * j + l] | (L[32 * j + l + 16] << 4));
        }
        store_block(dst, i, b);
    }
}

}  // namespace hearth::quant::detail
