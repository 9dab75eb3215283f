// Byte layouts of the GGUF/ggml quantized blocks (facts of the file format) plus small helpers
// shared by the per-family reference (de)quantizers in src/quant/quant_*.cpp. Internal header.
// Blocks are read/written with memcpy into these structs, so callers' pointers need no alignment.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/fp16.h"

namespace hearth::quant {

constexpr int kQK = 32;    // elements per legacy block (Q4_0 .. Q8_1, IQ4_NL)
constexpr int kQKK = 256;  // elements per K-quant super-block (Q2_K .. Q8_K, IQ4_XS)

// Q4_0: x[j] = d * (nibble - 8); element j < 16 in the low nibble of qs[j], j >= 16 in the high
// nibble of qs[j - 16].
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[16];
};
// Q4_1: x[j] = d * nibble + m (same nibble order as Q4_0).
struct BlockQ4_1 {
    uint16_t d, m;
    uint8_t qs[16];
};
// Q5_0: 5-bit q = nibble | (bit j of the little-endian u32 qh) << 4; x[j] = d * (q - 16).
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
};
// Q5_1: x[j] = d * q + m with q as in Q5_0.
struct BlockQ5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
};
// Q8_0: x[j] = d * qs[j].
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[32];
};
// Q8_1: x[j] = d * qs[j]; s = d * sum(qs) (used by dot products with Q4_1/Q5_1).
struct BlockQ8_1 {
    uint16_t d, s;
    int8_t qs[32];
};
// Q2_K: 16 sub-blocks of 16. scales[i]: low nibble = scale, high nibble = min of sub-block i.
// 2-bit q of element e = h*128 + s*32 + l (h<2, s<4, l<32) is (qs[h*32 + l] >> 2s) & 3;
// x[e] = d*scale[e/16]*q - dmin*min[e/16].
struct BlockQ2_K {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d, dmin;
};
// Q3_K: 16 sub-blocks of 16. Low 2 bits as in Q2_K; high bit of element e = b*32 + l is bit b of
// hmask[l]; q = low - (high ? 0 : 4) in -4..3. 16 signed 6-bit scales (stored +32) packed in 12
// bytes: low nibble of scale i in scales[i % 8] (>> 4 when i >= 8), high 2 bits in
// scales[8 + i % 4] >> 2*(i / 4). x[e] = d * (scale[e/16] - 32) * q.
struct BlockQ3_K {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
};
// Q4_K: 8 sub-blocks of 32 with 6-bit scale and min (packing: see unpack_scale_min_k4).
// 4-bit q of element e = g*64 + h*32 + l is (qs[g*32 + l] >> 4h) & 15; sub-block = e/32.
// x[e] = d*sc*q - dmin*m.
struct BlockQ4_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
};
// Q5_K: as Q4_K plus the 5th bit of element e = b*32 + l in bit b of qh[l].
struct BlockQ5_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
// Q6_K: 16 sub-blocks of 16 with int8 scales. Element e = h*128 + r (h<2, r<128): low nibble
// (ql[h*64 + r%64] >> 4*(r/64)) & 15, high 2 bits (qh[h*32 + r%32] >> 2*(r/32)) & 3;
// q = low | high << 4, x[e] = d * scales[e/16] * (q - 32).
struct BlockQ6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
// Q8_K: activation format of K-quant dot products. d is a float; bsums[i] = sum of qs[16i..16i+16).
struct BlockQ8_K {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
};
// IQ4_NL: x[j] = d * kIQ4Values[nibble] (nibble order as Q4_0).
struct BlockIQ4_NL {
    uint16_t d;
    uint8_t qs[16];
};
// IQ4_XS: 8 sub-blocks of 32; 6-bit scale ls of sub-block j = ((scales_l[j/2] >> 4*(j%2)) & 15) |
// (((scales_h >> 2j) & 3) << 4); element l of sub-block j: nibble of qs[16j + l%16] (high when
// l >= 16); x = d * (ls - 32) * kIQ4Values[nibble].
struct BlockIQ4_XS {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[4];
    uint8_t qs[128];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);

// The 16 non-uniform levels of IQ4_NL / IQ4_XS.
inline constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// Copy block i out of / into a byte row (alignment-free).
template <typename Block>
inline Block load_block(const void* row, int64_t i) {
    Block b;
    std::memcpy(&b, static_cast<const uint8_t*>(row) + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
    return b;
}
template <typename Block>
inline void store_block(void* row, int64_t i, const Block& b) {
    std::memcpy(static_cast<uint8_t*>(row) + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// Q4_K/Q5_K scale packing: 8 six-bit scales and 8 six-bit mins in 12 bytes. For j < 4 the low
// 6 bits of bytes j and j+4 hold scale j and min j; for j >= 4 the low nibbles come from byte
// j+4 (scale: low nibble, min: high nibble) and the top 2 bits from bits 6-7 of bytes j-4 / j.
inline void unpack_scale_min_k4(const uint8_t* s, int j, int* sc, int* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}
inline void pack_scale_min_k4(uint8_t* s, const int* sc, const int* m) {
    std::memset(s, 0, 12);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] |= static_cast<uint8_t>(sc[j] & 63);
            s[j + 4] |= static_cast<uint8_t>(m[j] & 63);
        } else {
            s[j + 4] = static_cast<uint8_t>((sc[j] & 0x0F) | ((m[j] & 0x0F) << 4));
            s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
            s[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
        }
    }
}

// Q3_K: the 16 six-bit scales (stored value, 0..63).
inline int unpack_scale_q3k(const uint8_t* s, int i) {
    const int low = (i < 8 ? s[i] : s[i - 8] >> 4) & 0x0F;
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return low | (high << 4);
}
inline void pack_scales_q3k(uint8_t* s, const int* stored) {
    std::memset(s, 0, 12);
    for (int i = 0; i < 16; ++i) {
        const int v = stored[i] & 63;
        s[i % 8] |= static_cast<uint8_t>((v & 0x0F) << (i < 8 ? 0 : 4));
        s[8 + i % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (i / 4)));
    }
}

// The value v takes once stored as an fp16 scale.
inline float fp16_round(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

// Round half away from zero (C roundf), the rounding llama.cpp's reference quantizers use.
// Out-of-range results saturate at +-2^30 and NaN gives 0, so the cast is always defined.
inline int round_int(float x) {
    const float r = std::round(x);
    if (!(r == r)) return 0;
    if (r > 1073741824.0f) return 1 << 30;
    if (r < -1073741824.0f) return -(1 << 30);
    return static_cast<int>(r);
}

// round(v) clamped to [lo, hi] (|lo|, |hi| < 2^22), ties to even; NaN maps to lo. Branch-free
// (max/min, then the add-and-subtract-2^23+2^22 rounding trick): the scale searches call this for
// every element of every candidate scale.
inline int clamp_round(float v, int lo, int hi) {
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    float c = v > flo ? v : flo;
    c = c < fhi ? c : fhi;
    const float r = (c + 12582912.0f) - 12582912.0f;
    return static_cast<int>(r);
}

}  // namespace hearth::quant
