// SIMD weight decoders for the x86 matmul kernels. Included ONLY by matmul_avx2.cpp and
// matmul_avx512.cpp (each compiles it with its own ISA flags); everything sits in an anonymous
// namespace so no ISA-specific code is shared with baseline translation units.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace hearth::cpu {
namespace {

// 256 weights of one row (8 sub-blocks of 32) decoded to a common form:
//   value[32*s + e] = sc(s, e) * u[s][e] + mn(s, e)
// u: unsigned 0..63 (or signed int8 for formats with kSigned). Scales per 32 (kSub16 = false):
// lane s of sc[0] / mn[0]. Scales per 16 (kSub16 = true): lane 2t+h of sc[0] (t < 4) or sc[1]
// (sub-block 4+t), h = which half of the 32.
struct Group {
    __m256i u[8];
    __m256 sc[2];
    __m256 mn[2];
};

inline uint16_t ld16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t ld32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint64_t ld64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline __m128i ld128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m256i ld256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// n (1..8) fp16 values at p, p+stride, ... as floats; missing lanes are 0. Packed in general
// registers (cheap scalar work) and moved with two vector inserts.
inline __m256 f16_strided(const uint8_t* p, int stride, int n) {
    uint64_t lo = 0, hi = 0;
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i)
        if (i < n) lo |= static_cast<uint64_t>(ld16(p + i * stride)) << (16 * i);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i)
        if (i + 4 < n) hi |= static_cast<uint64_t>(ld16(p + (i + 4) * stride)) << (16 * i);
    return _mm256_cvtph_ps(_mm_insert_epi64(_mm_cvtsi64_si128(static_cast<long long>(lo)), static_cast<long long>(hi), 1));
}

inline __m256 f16_one(const uint8_t* p) { return _mm256_set1_ps(_cvtsh_ss(ld16(p))); }

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first, then high nibbles.
inline __m256i nibbles_lo_hi(__m128i x) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), m4);
}

// 32 bits -> 32 bytes, byte e = 0x10 if bit e set else 0.
inline __m256i bits_to_0x10(uint32_t bits) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    return _mm256_maskz_mov_epi8(static_cast<__mmask32>(bits), _mm256_set1_epi8(0x10));  // one mask move
#else
    const __m256i v = _mm256_set1_epi32(static_cast<int>(bits));
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    const __m256i spread = _mm256_and_si256(_mm256_shuffle_epi8(v, pick), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(spread, bit), _mm256_set1_epi8(0x10));
#endif
}

inline void zero_tail(Group& g, int nsub) {
    #pragma GCC unroll 8
    for (int s = nsub; s < 8; ++s) g.u[s] = _mm256_setzero_si256();
}

inline __m256i iq4_table() {
    return _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,  //
                            -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
}

// ---- 32-element block formats: a group is 8 consecutive blocks (nsub < 8 only at a row's end) ----

struct FmtQ4_0 {  // {f16 d; u8 qs[16]}, value = d*(nibble-8)
    static constexpr int kOffsetShift = 3;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 15;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 18;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) g.u[s] = nibbles_lo_hi(ld128(p + 18 * s + 2));
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 18, nsub);
        g.mn[0] = _mm256_mul_ps(g.sc[0], _mm256_set1_ps(-8.0f));
    }
    static void scales(const uint8_t* p, int nsub, __m256& sc, __m256& mn) {
        sc = f16_strided(p, 18, nsub);
        mn = _mm256_mul_ps(sc, _mm256_set1_ps(-8.0f));
    }
};

struct FmtQ4_1 {  // {f16 d; f16 m; u8 qs[16]}, value = d*nibble + m
    static constexpr int kOffsetShift = -1;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 15;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 20;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) g.u[s] = nibbles_lo_hi(ld128(p + 20 * s + 4));
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 20, nsub);
        g.mn[0] = f16_strided(p + 2, 20, nsub);
    }
    static void scales(const uint8_t* p, int nsub, __m256& sc, __m256& mn) {
        sc = f16_strided(p, 20, nsub);
        mn = f16_strided(p + 2, 20, nsub);
    }
};

struct FmtQ5_0 {  // {f16 d; u32 qh; u8 qs[16]}, value = d*(q5-16)
    static constexpr int kOffsetShift = 4;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 31;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 22;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) {
            const uint8_t* b = p + 22 * s;
            g.u[s] = _mm256_or_si256(nibbles_lo_hi(ld128(b + 6)), bits_to_0x10(ld32(b + 2)));
        }
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 22, nsub);
        g.mn[0] = _mm256_mul_ps(g.sc[0], _mm256_set1_ps(-16.0f));
    }
    static void scales(const uint8_t* p, int nsub, __m256& sc, __m256& mn) {
        sc = f16_strided(p, 22, nsub);
        mn = _mm256_mul_ps(sc, _mm256_set1_ps(-16.0f));
    }
};

struct FmtQ5_1 {  // {f16 d; f16 m; u32 qh; u8 qs[16]}, value = d*q5 + m
    static constexpr int kOffsetShift = -1;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 31;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 24;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) {
            const uint8_t* b = p + 24 * s;
            g.u[s] = _mm256_or_si256(nibbles_lo_hi(ld128(b + 8)), bits_to_0x10(ld32(b + 4)));
        }
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 24, nsub);
        g.mn[0] = f16_strided(p + 2, 24, nsub);
    }
    static void scales(const uint8_t* p, int nsub, __m256& sc, __m256& mn) {
        sc = f16_strided(p, 24, nsub);
        mn = f16_strided(p + 2, 24, nsub);
    }
};

struct FmtQ8_0 {  // {f16 d; i8 qs[32]}, value = d*q (signed)
    static constexpr int kOffsetShift = 7;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = true, kSub16 = false;
    static constexpr int kUMax = 255;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 34;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) g.u[s] = ld256(p + 34 * s + 2);
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 34, nsub);
        g.mn[0] = _mm256_setzero_ps();
    }
};

struct FmtIQ4_NL {  // {f16 d; u8 qs[16]}, value = d*table[nibble] (signed)
    static constexpr int kOffsetShift = 7;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = true, kSub16 = false;
    static constexpr int kUMax = 255;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 8, kGroupBytes = 8 * 18;
    static void decode(const uint8_t* p, int nsub, Group& g) {
        const __m256i t = iq4_table();
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) g.u[s] = _mm256_shuffle_epi8(t, nibbles_lo_hi(ld128(p + 18 * s + 2)));
        zero_tail(g, nsub);
        g.sc[0] = f16_strided(p, 18, nsub);
        g.mn[0] = _mm256_setzero_ps();
    }
    static void scales(const uint8_t* p, int nsub, __m256& sc, __m256& mn) {
        sc = f16_strided(p, 18, nsub);
        mn = _mm256_setzero_ps();
    }
};

// ---- 256-element super-block formats: a group is one super-block ----

// Q4_K/Q5_K 12-byte packing of eight 6-bit scales and mins -> (scales bytes, mins bytes) as u64.
inline void k4_unpack(const uint8_t* s, uint64_t& scales, uint64_t& mins) {
    const uint32_t w0 = ld32(s), w1 = ld32(s + 4), w2 = ld32(s + 8);
    const uint32_t sc_lo = w0 & 0x3F3F3F3Fu;
    const uint32_t mn_lo = w1 & 0x3F3F3F3Fu;
    const uint32_t sc_hi = (w2 & 0x0F0F0F0Fu) | (((w0 >> 6) & 0x03030303u) << 4);
    const uint32_t mn_hi = ((w2 >> 4) & 0x0F0F0F0Fu) | (((w1 >> 6) & 0x03030303u) << 4);
    scales = static_cast<uint64_t>(sc_lo) | (static_cast<uint64_t>(sc_hi) << 32);
    mins = static_cast<uint64_t>(mn_lo) | (static_cast<uint64_t>(mn_hi) << 32);
}

inline __m256 u8x8_to_ps(uint64_t v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v))));
}
inline __m256 i8x8_to_ps(uint64_t v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v))));
}

struct FmtQ4_K {  // {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: value = d*sc*q - dmin*m
    static constexpr int kOffsetShift = -1;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 15;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 144;
    static void decode(const uint8_t* p, int, Group& g) {
        uint64_t sc, mn;
        k4_unpack(p + 4, sc, mn);
        g.sc[0] = _mm256_mul_ps(f16_one(p), u8x8_to_ps(sc));
        g.mn[0] = _mm256_mul_ps(f16_one(p + 2), _mm256_sub_ps(_mm256_setzero_ps(), u8x8_to_ps(mn)));
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        #pragma GCC unroll 8
        for (int c = 0; c < 4; ++c) {
            const __m256i x = ld256(p + 16 + 32 * c);
            g.u[2 * c] = _mm256_and_si256(x, m4);
            g.u[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
        }
    }
#if defined(__AVX512BW__)
    static constexpr bool kPairs = true;
    // u2[c] = sub-blocks 2c (low 256 bits) and 2c+1 (high): one broadcast load, one half-masked shift.
    static void decode_pairs(const uint8_t* p, __m512i u2[4]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const __m512i x = _mm512_broadcast_i64x4(ld256(p + 16 + 32 * c));
            u2[c] = _mm512_and_si512(_mm512_mask_srli_epi16(x, static_cast<__mmask32>(0xFFFF0000u), x, 4), m4);
        }
    }
#endif
};

// byte-wise (x >> s) & 1, moved to bit 4
template <int S>
inline __m256i bit_to_0x10(__m256i x) {
    const __m256i b = _mm256_and_si256(x, _mm256_set1_epi8(static_cast<char>(1 << S)));
    if constexpr (S < 4) return _mm256_slli_epi16(b, 4 - S);
    else if constexpr (S > 4) return _mm256_srli_epi16(b, S - 4);
    else return b;
}
// byte-wise ((x >> S) & 1) << 2
template <int S>
inline __m256i bit_to_0x04(__m256i x) {
    const __m256i b = _mm256_and_si256(x, _mm256_set1_epi8(static_cast<char>(1 << S)));
    if constexpr (S < 2) return _mm256_slli_epi16(b, 2 - S);
    else if constexpr (S > 2) return _mm256_srli_epi16(b, S - 2);
    else return b;
}

struct FmtQ5_K {  // {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: bit s of qh[l] = 5th bit
    static constexpr int kOffsetShift = -1;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = false;
    static constexpr int kUMax = 31;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 176;
    static void decode(const uint8_t* p, int, Group& g) {
        uint64_t sc, mn;
        k4_unpack(p + 4, sc, mn);
        g.sc[0] = _mm256_mul_ps(f16_one(p), u8x8_to_ps(sc));
        g.mn[0] = _mm256_mul_ps(f16_one(p + 2), _mm256_sub_ps(_mm256_setzero_ps(), u8x8_to_ps(mn)));
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        const __m256i hb = ld256(p + 16);
        const __m256i x0 = ld256(p + 48), x1 = ld256(p + 80), x2 = ld256(p + 112), x3 = ld256(p + 144);
        g.u[0] = _mm256_or_si256(_mm256_and_si256(x0, m4), bit_to_0x10<0>(hb));
        g.u[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x0, 4), m4), bit_to_0x10<1>(hb));
        g.u[2] = _mm256_or_si256(_mm256_and_si256(x1, m4), bit_to_0x10<2>(hb));
        g.u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x1, 4), m4), bit_to_0x10<3>(hb));
        g.u[4] = _mm256_or_si256(_mm256_and_si256(x2, m4), bit_to_0x10<4>(hb));
        g.u[5] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x2, 4), m4), bit_to_0x10<5>(hb));
        g.u[6] = _mm256_or_si256(_mm256_and_si256(x3, m4), bit_to_0x10<6>(hb));
        g.u[7] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x3, 4), m4), bit_to_0x10<7>(hb));
    }
};

struct FmtQ6_K {  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: value = d*scale[e/16]*(q6-32)
    static constexpr int kOffsetShift = 5;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = true;
    static constexpr int kUMax = 63;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 210;
    static void decode(const uint8_t* p, int, Group& g) {
        const __m256 d = f16_one(p + 208);
        g.sc[0] = _mm256_mul_ps(d, i8x8_to_ps(ld64(p + 192)));
        g.sc[1] = _mm256_mul_ps(d, i8x8_to_ps(ld64(p + 200)));
        const __m256 m32 = _mm256_set1_ps(-32.0f);
        g.mn[0] = _mm256_mul_ps(g.sc[0], m32);
        g.mn[1] = _mm256_mul_ps(g.sc[1], m32);
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x30);
        #pragma GCC unroll 8
        for (int h = 0; h < 2; ++h) {
            const __m256i l0 = ld256(p + 64 * h), l1 = ld256(p + 64 * h + 32);
            const __m256i qh = ld256(p + 128 + 32 * h);
            g.u[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m3));
            g.u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m3));
            g.u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m3));
            g.u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), m3));
        }
    }
#if defined(__AVX512BW__)
    static constexpr bool kPairs = true;
    // u2[2h] = sub-blocks 4h (low 256 bits) and 4h+1, u2[2h+1] = 4h+2 and 4h+3.
    static void decode_pairs(const uint8_t* p, __m512i u2[4]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x30);
        const __mmask32 lo_half = 0x0000FFFFu;
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m512i l = _mm512_loadu_si512(p + 64 * h);              // ql: sub 4h low | 4h+1 low nibbles
            const __m512i qh = _mm512_broadcast_i64x4(ld256(p + 128 + 32 * h));
            // pair (4h, 4h+1): high bits are qh bits 0-1 (<<4) / bits 2-3 (<<2)
            const __m512i h01 = _mm512_mask_slli_epi16(_mm512_slli_epi16(qh, 2), lo_half, qh, 4);
            // pair (4h+2, 4h+3): qh bits 4-5 (as is) / bits 6-7 (>>2)
            const __m512i h23 = _mm512_mask_mov_epi16(_mm512_srli_epi16(qh, 2), lo_half, qh);
            u2[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(h01, m3));
            u2[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_and_si512(h23, m3));
        }
    }
#endif
};

struct FmtQ2_K {  // {u8 scales[16] (lo4 scale, hi4 min); u8 qs[64]; f16 d; f16 dmin}
    static constexpr int kOffsetShift = -1;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = true;
    static constexpr int kUMax = 3;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 84;
    static void decode(const uint8_t* p, int, Group& g) {
        const __m256 d = f16_one(p + 80), dmin = f16_one(p + 82);
        const __m256 nd = _mm256_sub_ps(_mm256_setzero_ps(), dmin);
        #pragma GCC unroll 8
        for (int h = 0; h < 2; ++h) {
            const uint64_t s = ld64(p + 8 * h);
            g.sc[h] = _mm256_mul_ps(d, u8x8_to_ps(s & 0x0F0F0F0F0F0F0F0FULL));
            g.mn[h] = _mm256_mul_ps(nd, u8x8_to_ps((s >> 4) & 0x0F0F0F0F0F0F0F0FULL));
        }
        const __m256i m2 = _mm256_set1_epi8(3);
        #pragma GCC unroll 8
        for (int h = 0; h < 2; ++h) {
            const __m256i x = ld256(p + 16 + 32 * h);
            g.u[4 * h + 0] = _mm256_and_si256(x, m2);
            g.u[4 * h + 1] = _mm256_and_si256(_mm256_srli_epi16(x, 2), m2);
            g.u[4 * h + 2] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m2);
            g.u[4 * h + 3] = _mm256_and_si256(_mm256_srli_epi16(x, 6), m2);
        }
    }
};

struct FmtQ3_K {  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: value = d*(scale6-32)*((lo2|hb<<2)-4)
    static constexpr int kOffsetShift = 2;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = false, kSub16 = true;
    static constexpr int kUMax = 7;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 110;
    static void decode(const uint8_t* p, int, Group& g) {
        // 16 six-bit scales: low 4 bits in bytes 0..7 (lo nibble: i, hi nibble: i+8),
        // high 2 bits in bytes 8..11 (byte 8 + i%4, bit pair i/4).
        const uint8_t* s = p + 96;
        const uint64_t lo = ld64(s);
        const uint32_t hi = ld32(s + 8);
        const uint64_t lo_a = lo & 0x0F0F0F0F0F0F0F0FULL, lo_b = (lo >> 4) & 0x0F0F0F0F0F0F0F0FULL;
        // high bits for i in 0..7: (hi >> 2*(i/4)) byte (i%4); for i in 8..15: shift 4 + 2*((i-8)/4)
        const uint64_t hi_a = (static_cast<uint64_t>(hi & 0x03030303u) | (static_cast<uint64_t>((hi >> 2) & 0x03030303u) << 32)) << 4;
        const uint64_t hi_b = (static_cast<uint64_t>((hi >> 4) & 0x03030303u) | (static_cast<uint64_t>((hi >> 6) & 0x03030303u) << 32)) << 4;
        const __m256 d = f16_one(p + 108);
        const __m256 c32 = _mm256_set1_ps(32.0f);
        g.sc[0] = _mm256_mul_ps(d, _mm256_sub_ps(u8x8_to_ps(lo_a | hi_a), c32));
        g.sc[1] = _mm256_mul_ps(d, _mm256_sub_ps(u8x8_to_ps(lo_b | hi_b), c32));
        const __m256 m4 = _mm256_set1_ps(-4.0f);
        g.mn[0] = _mm256_mul_ps(g.sc[0], m4);
        g.mn[1] = _mm256_mul_ps(g.sc[1], m4);
        const __m256i m2 = _mm256_set1_epi8(3);
        const __m256i hm = ld256(p);
        const __m256i x0 = ld256(p + 32), x1 = ld256(p + 64);
        g.u[0] = _mm256_or_si256(_mm256_and_si256(x0, m2), bit_to_0x04<0>(hm));
        g.u[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x0, 2), m2), bit_to_0x04<1>(hm));
        g.u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x0, 4), m2), bit_to_0x04<2>(hm));
        g.u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x0, 6), m2), bit_to_0x04<3>(hm));
        g.u[4] = _mm256_or_si256(_mm256_and_si256(x1, m2), bit_to_0x04<4>(hm));
        g.u[5] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x1, 2), m2), bit_to_0x04<5>(hm));
        g.u[6] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x1, 4), m2), bit_to_0x04<6>(hm));
        g.u[7] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x1, 6), m2), bit_to_0x04<7>(hm));
    }
};

struct FmtIQ4_XS {  // {f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}: value = d*(ls-32)*table[nibble]
    static constexpr int kOffsetShift = 7;  // VNNI panels: value = sc*(u - 2^shift) taken in the int dot
    static constexpr bool kSigned = true, kSub16 = false;
    static constexpr int kUMax = 255;  // largest decoded weight byte (signed formats: |q|)
    static constexpr int kBlocks = 1, kGroupBytes = 136;
    static void decode(const uint8_t* p, int, Group& g) {
        const uint32_t sh = ld16(p + 2);
        const uint32_t sl = ld32(p + 4);
        // ls[s] = ((sl >> 4*s) & 15) | (((sh >> 2*s) & 3) << 4)   (4*s walks the nibbles of scales_l in order)
        uint64_t ls = 0;
        #pragma GCC unroll 8
        for (int s = 0; s < 8; ++s) {
            const uint64_t v = ((sl >> (4 * s)) & 0x0Fu) | (((sh >> (2 * s)) & 3u) << 4);
            ls |= v << (8 * s);
        }
        g.sc[0] = _mm256_mul_ps(f16_one(p), _mm256_sub_ps(u8x8_to_ps(ls), _mm256_set1_ps(32.0f)));
        g.mn[0] = _mm256_setzero_ps();
        const __m256i t = iq4_table();
        #pragma GCC unroll 8
        for (int s = 0; s < 8; ++s) g.u[s] = _mm256_shuffle_epi8(t, nibbles_lo_hi(ld128(p + 8 + 16 * s)));
    }
};

}  // namespace
}  // namespace hearth::cpu
