// Scalar (portable) quantized matmul: decodes each 32-element weight sub-block into signed ints with
// per-16 scale and offset, then integer dot products against the Q8 activation rows. It is the
// fallback on CPUs without AVX2 and the reference the SIMD kernels are tested against.
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu::detail {
namespace {

// IQ4_NL / IQ4_XS non-linear 4-bit code book (format constant).
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

float f16_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
}

// Q4_K / Q5_K: 8 six-bit (scale, min) pairs packed in 12 bytes.
void k4_scale_min(const uint8_t* s, int j, int& sc, int& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q3_K: 16 six-bit scales packed in 12 bytes (4 low bits in bytes 0..7, 2 high bits in 8..11), minus 32.
int k3_scale(const uint8_t* s, int i) {
    const int lo = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
    const int hi = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

}  // namespace

void decode_block_scalar(DType wtype, const uint8_t* row, int64_t j, int8_t q[32], float sc[2], float mn[2]) {
    mn[0] = mn[1] = 0.0f;
    switch (wtype) {
        case DType::Q4_0: {  // {f16 d; u8 qs[16]}: element l = low nibble of qs[l], l+16 = high nibble; (q-8)*d
            const uint8_t* b = row + j * 18;
            for (int l = 0; l < 16; ++l) {
                q[l] = static_cast<int8_t>((b[2 + l] & 0x0F) - 8);
                q[l + 16] = static_cast<int8_t>((b[2 + l] >> 4) - 8);
            }
            sc[0] = sc[1] = f16_at(b);
            return;
        }
        case DType::Q4_1: {  // {f16 d; f16 m; u8 qs[16]}: q*d + m
            const uint8_t* b = row + j * 20;
            for (int l = 0; l < 16; ++l) {
                q[l] = static_cast<int8_t>(b[4 + l] & 0x0F);
                q[l + 16] = static_cast<int8_t>(b[4 + l] >> 4);
            }
            sc[0] = sc[1] = f16_at(b);
            mn[0] = mn[1] = f16_at(b + 2);
            return;
        }
        case DType::Q5_0:    // {f16 d; u32 qh; u8 qs[16]}: 5th bit of element e is bit e of qh; (q-16)*d
        case DType::Q5_1: {  // {f16 d; f16 m; u32 qh; u8 qs[16]}: q*d + m
            const bool one = wtype == DType::Q5_1;
            const uint8_t* b = row + j * (one ? 24 : 22);
            const uint8_t* hp = b + (one ? 4 : 2);
            uint32_t qh;
            std::memcpy(&qh, hp, 4);
            const uint8_t* qs = hp + 4;
            const int off = one ? 0 : 16;
            for (int l = 0; l < 16; ++l) {
                q[l] = static_cast<int8_t>(((qs[l] & 0x0F) | (((qh >> l) & 1) << 4)) - off);
                q[l + 16] = static_cast<int8_t>(((qs[l] >> 4) | (((qh >> (l + 16)) & 1) << 4)) - off);
            }
            sc[0] = sc[1] = f16_at(b);
            if (one) mn[0] = mn[1] = f16_at(b + 2);
            return;
        }
        case DType::Q8_0: {  // {f16 d; i8 qs[32]}
            const uint8_t* b = row + j * 34;
            std::memcpy(q, b + 2, 32);
            sc[0] = sc[1] = f16_at(b);
            return;
        }
        case DType::IQ4_NL: {  // {f16 d; u8 qs[16]}: nibbles index kIq4Values, Q4_0 element order
            const uint8_t* b = row + j * 18;
            for (int l = 0; l < 16; ++l) {
                q[l] = kIq4Values[b[2 + l] & 0x0F];
                q[l + 16] = kIq4Values[b[2 + l] >> 4];
            }
            sc[0] = sc[1] = f16_at(b);
            return;
        }
        case DType::Q4_K:    // {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: 4 chunks of 32 bytes, each
        case DType::Q5_K: {  // low nibbles = sub-block 2c, high = 2c+1. Q5_K adds u8 qh[32] before qs.
            const bool five = wtype == DType::Q5_K;
            const uint8_t* b = row + (j / 8) * (five ? 176 : 144);
            const int s = static_cast<int>(j % 8);
            int scale, m;
            k4_scale_min(b + 4, s, scale, m);
            const uint8_t* qs = b + (five ? 48 : 16) + 32 * (s / 2);
            const int shift = 4 * (s % 2);
            for (int l = 0; l < 32; ++l) {
                int v = (qs[l] >> shift) & 0x0F;
                if (five) v |= ((b[16 + l] >> s) & 1) << 4;
                q[l] = static_cast<int8_t>(v);
            }
            sc[0] = sc[1] = f16_at(b) * static_cast<float>(scale);
            mn[0] = mn[1] = -f16_at(b + 2) * static_cast<float>(m);
            return;
        }
        case DType::Q6_K: {  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: (q-32)*d*scale[e/16]
            const uint8_t* b = row + (j / 8) * 210;
            const int s = static_cast<int>(j % 8);
            const int h = s / 4, g = s % 4;
            const uint8_t* ql = b + 64 * h + 32 * (g % 2);
            const uint8_t* qh = b + 128 + 32 * h;
            for (int l = 0; l < 32; ++l) {
                const int lo = (ql[l] >> (4 * (g / 2))) & 0x0F;
                const int hi = (qh[l] >> (2 * g)) & 3;
                q[l] = static_cast<int8_t>((lo | (hi << 4)) - 32);
            }
            const float d = f16_at(b + 208);
            const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
            sc[0] = d * scales[2 * s];
            sc[1] = d * scales[2 * s + 1];
            return;
        }
        case DType::Q2_K: {  // {u8 scales[16] (lo4 scale, hi4 min); u8 qs[64]; f16 d; f16 dmin}
            const uint8_t* b = row + (j / 8) * 84;
            const int s = static_cast<int>(j % 8);
            const uint8_t* qs = b + 16 + 32 * (s / 4);
            const int shift = 2 * (s % 4);
            for (int l = 0; l < 32; ++l) q[l] = static_cast<int8_t>((qs[l] >> shift) & 3);
            const float d = f16_at(b + 80), dmin = f16_at(b + 82);
            for (int e = 0; e < 2; ++e) {
                const uint8_t sm = b[2 * s + e];
                sc[e] = d * static_cast<float>(sm & 0x0F);
                mn[e] = -dmin * static_cast<float>(sm >> 4);
            }
            return;
        }
        case DType::Q3_K: {  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: (lo2 | hbit<<2) - 4
            const uint8_t* b = row + (j / 8) * 110;
            const int s = static_cast<int>(j % 8);
            const uint8_t* qs = b + 32 + 32 * (s / 4);
            const int shift = 2 * (s % 4);
            for (int l = 0; l < 32; ++l) {
                const int lo = (qs[l] >> shift) & 3;
                const int hb = (b[l] >> s) & 1;
                q[l] = static_cast<int8_t>((lo | (hb << 2)) - 4);
            }
            const float d = f16_at(b + 108);
            sc[0] = d * static_cast<float>(k3_scale(b + 96, 2 * s));
            sc[1] = d * static_cast<float>(k3_scale(b + 96, 2 * s + 1));
            return;
        }
        case DType::IQ4_XS: {  // {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}: 8 sub-blocks of 32
            const uint8_t* b = row + (j / 8) * 136;
            const int s = static_cast<int>(j % 8);
            uint16_t sh;
            std::memcpy(&sh, b + 2, 2);
            const int ls = ((b[4 + s / 2] >> (4 * (s % 2))) & 0x0F) | (((sh >> (2 * s)) & 3) << 4);
            const uint8_t* qs = b + 8 + 16 * s;
            for (int l = 0; l < 16; ++l) {
                q[l] = kIq4Values[qs[l] & 0x0F];
                q[l + 16] = kIq4Values[qs[l] >> 4];
            }
            sc[0] = sc[1] = f16_at(b) * static_cast<float>(ls - 32);
            return;
        }
        default:
            HEARTH_ASSERT_MSG(false, "decode_block_scalar: unsupported type");
    }
}

void matmul_scalar(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                   int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    const int64_t nb = k / 32;
    int8_t q[32];
    float sc[2], mn[2];
    for (int64_t i = w_row_begin; i < w_row_end; ++i) {
        const uint8_t* row = static_cast<const uint8_t*>(w) + static_cast<size_t>(i) * w_row_bytes;
        for (int64_t c = 0; c < n; ++c) out[c * out_stride + i] = 0.0f;
        for (int64_t j = 0; j < nb; ++j) {
            decode_block_scalar(wtype, row, j, q, sc, mn);
            for (int64_t c = 0; c < n; ++c) {
                const ActRow a = act_row(a_q, k, c);
                const int8_t* aq = a.q + j * 32;
                int32_t s0 = 0, s1 = 0;
                for (int e = 0; e < 16; ++e) s0 += static_cast<int32_t>(q[e]) * aq[e];
                for (int e = 16; e < 32; ++e) s1 += static_cast<int32_t>(q[e]) * aq[e];
                // One min per 32 (Q4_1, Q5_1, Q4_K, Q5_K) meets the per-32 sum (for Q4_1/Q5_1 it is
                // rounded to fp16, as the x86 kernels and llama.cpp use it); else the per-16 sums.
                const float mins = mn[0] == mn[1] ? mn[0] * a.ds32[j] : mn[0] * a.ds16[2 * j] + mn[1] * a.ds16[2 * j + 1];
                out[c * out_stride + i] += a.d[j] * (sc[0] * static_cast<float>(s0) + sc[1] * static_cast<float>(s1)) + mins;
            }
        }
    }
}

}  // namespace hearth::cpu::detail
