// AVX2 matmul over repacked weights (layouts in repack.h) for CPUs without AVX-512 VNNI, every
// repacked type; bitwise equal to the AVX2 panel kernel (matmul_x86_panels.h) for every batch size,
// so decode gets the repacked layout's speed without losing batch invariance.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/matmul_prefetch.h"
#include "core/error.h"

namespace hearth::cpu::detail {
namespace {

// A 16-row tile is two ymm halves ("parts": rows 0-7 = bytes 0..31 of each 64-byte lane image,
// rows 8-15 = bytes 32..63); int8 dots by maddubs/madd. Per output the float work is exactly
// panel_tile's: per sub-block s and half h, in ascending (s, h) order,
//   f = fma(float(int dot), sc*da, f); f = fma(mn, ds, f)
// with sc / mn computed by the same float operations as matmul_x86_decode.h (no -128 fold: signed
// formats use maddubs(|q|, sign(a, q))). Integer dots are exact, so their grouping is free.

inline __m256i ldy(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256 f16x8(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m128i ld64x(const uint8_t* p) {
    long long v;
    std::memcpy(&v, p, 8);
    return _mm_cvtsi64_si128(v);
}
inline __m256 u8x8(const uint8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(ld64x(p))); }
inline __m256 i8x8(const uint8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(ld64x(p))); }

// Per format (part = which 8 rows of the 16-row tile): kSubs sub-blocks per unit, kUnit bytes per
// unit, kSub16 (scales per 16 elements), kSigned (weights are int8: dot by abs/sign), kRun (groups
// whose maddubs int16 sums are added before widening; exact for the format's largest weight),
// weights(unit, s, part, wv): the 8 weight vectors of sub-block s (group g = elements 4g..4g+3),
// scales(unit, s, part, sc, mn): per-row scale / offset of sub-block s (half h in sc[h] / mn[h]).
struct RQ4_0 {
    static constexpr int kSubs = 1, kUnit = 288, kRun = 8;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int, int part, __m256i wv[8]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m256i z = ldy(u + 64 * j + 32 * part);
            wv[j] = _mm256_and_si256(z, m4);
            wv[j + 4] = _mm256_and_si256(_mm256_srli_epi16(z, 4), m4);
        }
    }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 256 + 16 * part);
        mn[0] = _mm256_mul_ps(sc[0], _mm256_set1_ps(-8.0f));
    }
};

struct RQ8_0 {
    static constexpr int kSubs = 1, kUnit = 544, kRun = 1;
    static constexpr bool kSub16 = false, kSigned = true;
    static void weights(const uint8_t* u, int, int part, __m256i wv[8]) {
        const __m256i flip = _mm256_set1_epi8(-128);
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) wv[g] = _mm256_xor_si256(ldy(u + 64 * g + 32 * part), flip);  // stored q ^ 0x80
    }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 512 + 16 * part);
        mn[0] = _mm256_setzero_ps();
    }
};

struct RQ4_K {
    static constexpr int kSubs = 8, kUnit = 2368, kRun = 8;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        const uint8_t* p = u + 512 * (s >> 1) + 32 * part;
        if (s & 1) {
#pragma GCC unroll 8
            for (int g = 0; g < 8; ++g) wv[g] = _mm256_and_si256(_mm256_srli_epi16(ldy(p + 64 * g), 4), m4);
        } else {
#pragma GCC unroll 8
            for (int g = 0; g < 8; ++g) wv[g] = _mm256_and_si256(ldy(p + 64 * g), m4);
        }
    }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = _mm256_mul_ps(f16x8(u + 2048 + 16 * part), u8x8(u + 2112 + 16 * s + 8 * part));
        mn[0] = _mm256_mul_ps(f16x8(u + 2080 + 16 * part),
                              _mm256_sub_ps(_mm256_setzero_ps(), u8x8(u + 2240 + 16 * s + 8 * part)));
    }
};

struct RQ6_K {
    static constexpr int kSubs = 8, kUnit = 3360, kRun = 2;
    static constexpr bool kSub16 = true, kSigned = false, kQuad = true;
    // Group g of the 4 sub-blocks 4h..4h+3 from one load each of ql0 / ql1 / qh (decode fast path).
    static void quad_group(const uint8_t* u, int h, int g, int part, __m256i w[4]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x30);
        const uint8_t* z = u + 192 * (8 * h + g) + 32 * part;
        const __m256i ql0 = ldy(z), ql1 = ldy(z + 64), qh = ldy(z + 128);
        w[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m3));
        w[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m3));
        w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m3));
        w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m3));
    }
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x30);
        const int h = s >> 2, q = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const uint8_t* z = u + 192 * (8 * h + g) + 32 * part;
            const __m256i ql = ldy(z + 64 * (q & 1)), qh = ldy(z + 128);
            const __m256i lo = q < 2 ? _mm256_and_si256(ql, m4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), m4);
            __m256i hb;
            if (q == 0) hb = _mm256_slli_epi16(qh, 4);
            else if (q == 1) hb = _mm256_slli_epi16(qh, 2);
            else if (q == 2) hb = qh;
            else hb = _mm256_srli_epi16(qh, 2);
            wv[g] = _mm256_or_si256(lo, _mm256_and_si256(hb, m3));
        }
    }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        const __m256 d = f16x8(u + 3328 + 16 * part), m32 = _mm256_set1_ps(-32.0f);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {
            sc[hh] = _mm256_mul_ps(d, i8x8(u + 3072 + 16 * (2 * s + hh) + 8 * part));
            mn[hh] = _mm256_mul_ps(sc[hh], m32);
        }
    }
};

// 32 mask bits -> 32 bytes: byte e = 0x10 when bit e is set, else 0.
inline __m256i bits_0x10(uint32_t bits) {
    const __m256i v = _mm256_set1_epi32(static_cast<int>(bits));
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    const __m256i m = _mm256_and_si256(_mm256_shuffle_epi8(v, pick), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(m, bit), _mm256_set1_epi8(0x10));
}
inline uint32_t ld32u(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
// bytes of x whose bit `bit` (a one-bit byte pattern) is set -> `val`, others 0
inline __m256i bit_to(__m256i x, __m256i bit, __m256i val) {
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit), val);
}

struct RQ4_1 {
    static constexpr int kSubs = 1, kUnit = 320, kRun = 8;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) { RQ4_0::weights(u, s, part, wv); }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 256 + 16 * part);
        mn[0] = f16x8(u + 288 + 16 * part);
    }
};

struct RQ5_0 {
    static constexpr int kSubs = 1, kUnit = 352, kRun = 4;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int, int part, __m256i wv[8]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {  // mask bit 4r+b of the u64s = byte 4r+b of the lane image
            const __m256i z = ldy(u + 64 * j + 32 * part);
            wv[j] = _mm256_or_si256(_mm256_and_si256(z, m4), bits_0x10(ld32u(u + 256 + 16 * j + 4 * part)));
            wv[j + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(z, 4), m4),
                                        bits_0x10(ld32u(u + 256 + 16 * j + 8 + 4 * part)));
        }
    }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 320 + 16 * part);
        mn[0] = _mm256_mul_ps(sc[0], _mm256_set1_ps(-16.0f));
    }
};

struct RQ5_1 {
    static constexpr int kSubs = 1, kUnit = 384, kRun = 4;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) { RQ5_0::weights(u, s, part, wv); }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 320 + 16 * part);
        mn[0] = f16x8(u + 352 + 16 * part);
    }
};

struct RIQ4_NL {
    static constexpr int kSubs = 1, kUnit = 288, kRun = 1;
    static constexpr bool kSub16 = false, kSigned = true;
    static void weights(const uint8_t* u, int, int part, __m256i wv[8]) {  // signed code book values
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        const __m256i lut = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                             -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m256i z = ldy(u + 64 * j + 32 * part);
            wv[j] = _mm256_shuffle_epi8(lut, _mm256_and_si256(z, m4));
            wv[j + 4] = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(z, 4), m4));
        }
    }
    static void scales(const uint8_t* u, int, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = f16x8(u + 256 + 16 * part);
        mn[0] = _mm256_setzero_ps();
    }
};

struct RIQ4_XS {
    static constexpr int kSubs = 8, kUnit = 2208, kRun = 1;
    static constexpr bool kSub16 = false, kSigned = true;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) { RIQ4_NL::weights(u + 256 * s, 0, part, wv); }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = _mm256_mul_ps(f16x8(u + 2048 + 16 * part),
                              _mm256_sub_ps(u8x8(u + 2080 + 16 * s + 8 * part), _mm256_set1_ps(32.0f)));
        mn[0] = _mm256_setzero_ps();
    }
};

struct RQ5_K {
    static constexpr int kSubs = 8, kUnit = 2880, kRun = 4;
    static constexpr bool kSub16 = false, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) {
        const __m256i m4 = _mm256_set1_epi8(0x0F), c10 = _mm256_set1_epi8(0x10);
        const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << s));
        const uint8_t* p = u + 512 * (s >> 1) + 32 * part;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m256i z = ldy(p + 64 * g);
            const __m256i lo = (s & 1) ? _mm256_and_si256(_mm256_srli_epi16(z, 4), m4) : _mm256_and_si256(z, m4);
            wv[g] = _mm256_or_si256(lo, bit_to(ldy(u + 2048 + 64 * g + 32 * part), bit, c10));
        }
    }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        sc[0] = _mm256_mul_ps(f16x8(u + 2560 + 16 * part), u8x8(u + 2624 + 16 * s + 8 * part));
        mn[0] = _mm256_mul_ps(f16x8(u + 2592 + 16 * part),
                              _mm256_sub_ps(_mm256_setzero_ps(), u8x8(u + 2752 + 16 * s + 8 * part)));
    }
};

struct RQ2_K {
    static constexpr int kSubs = 8, kUnit = 1344, kRun = 8;
    static constexpr bool kSub16 = true, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) {
        const __m256i m2 = _mm256_set1_epi8(3);
        const int h = s >> 2, j = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m256i z = ldy(u + 64 * (8 * h + g) + 32 * part);
            wv[g] = _mm256_and_si256(j == 0 ? z : _mm256_srli_epi16(z, 2 * j), m2);
        }
    }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        const __m256 d = f16x8(u + 1280 + 16 * part);
        const __m256 nd = _mm256_sub_ps(_mm256_setzero_ps(), f16x8(u + 1312 + 16 * part));
        const __m256i m4 = _mm256_set1_epi32(0x0F);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {  // byte: low nibble scale, high nibble min
            const __m256i b = _mm256_cvtepu8_epi32(ld64x(u + 1024 + 16 * (2 * s + hh) + 8 * part));
            sc[hh] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b, m4)));
            mn[hh] = _mm256_mul_ps(nd, _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)));
        }
    }
};

struct RQ3_K {
    static constexpr int kSubs = 8, kUnit = 1824, kRun = 8;
    static constexpr bool kSub16 = true, kSigned = false;
    static void weights(const uint8_t* u, int s, int part, __m256i wv[8]) {
        const __m256i m2 = _mm256_set1_epi8(3), c4 = _mm256_set1_epi8(4);
        const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << s));
        const int h = s >> 2, j = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m256i z = ldy(u + 64 * (8 * h + g) + 32 * part);
            const __m256i lo = _mm256_and_si256(j == 0 ? z : _mm256_srli_epi16(z, 2 * j), m2);
            wv[g] = _mm256_or_si256(lo, bit_to(ldy(u + 1024 + 64 * g + 32 * part), bit, c4));
        }
    }
    static void scales(const uint8_t* u, int s, int part, __m256 sc[2], __m256 mn[2]) {
        const __m256 d = f16x8(u + 1792 + 16 * part);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {
            sc[hh] = _mm256_mul_ps(d, _mm256_sub_ps(u8x8(u + 1536 + 16 * (2 * s + hh) + 8 * part), _mm256_set1_ps(32.0f)));
            mn[hh] = _mm256_mul_ps(sc[hh], _mm256_set1_ps(-4.0f));
        }
    }
};

template <class R, class = void>
struct HasQuad : std::false_type {};
template <class R>
struct HasQuad<R, std::void_t<decltype(R::kQuad)>> : std::bool_constant<R::kQuad> {};

// Q6_K, one column, over whole quads [s0, s1) (multiples of 4): the integer dots of 4 sub-blocks
// come from one decode of their shared bytes, then the float chain runs in (s, h) order exactly as
// in tile_cols.
template <class R>
void tile_col_quad(const uint8_t* tile, const ActRow& act, int64_t s0, int64_t s1, __m256 f[2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t sq = s0; sq < s1; sq += 4) {
        const uint8_t* u = tile + (sq / R::kSubs) * R::kUnit;
        const int h = static_cast<int>((sq % R::kSubs) / 4);
        const uint8_t* ahead = u + (sq % R::kSubs) * (R::kUnit / R::kSubs) + kDecodePrefetch;
#pragma GCC unroll 2
        for (int p = 0; p < 2; ++p) {
            __m256i ia[4][2];
#pragma GCC unroll 2
            for (int hh = 0; hh < 2; ++hh) {
                __m256i s16[4];
#pragma GCC unroll 4
                for (int gq = 0; gq < 4; ++gq) {
                    const int g = 4 * hh + gq;
                    prefetch_lines<2>(ahead + (8 * p + g) * (4 * (R::kUnit / R::kSubs)) / 16);  // its 16th, and on
                    __m256i w[4];
                    R::quad_group(u, h, g, p, w);
#pragma GCC unroll 4
                    for (int q = 0; q < 4; ++q) {
                        int32_t a4;
                        std::memcpy(&a4, act.q + 32 * (sq + q) + 4 * g, 4);
                        const __m256i prod = _mm256_maddubs_epi16(w[q], _mm256_set1_epi32(a4));
                        s16[q] = gq % 2 == 0 ? prod : _mm256_add_epi16(s16[q], prod);  // kRun = 2
                        if (gq % 2 == 1) {
                            const __m256i w32 = _mm256_madd_epi16(s16[q], ones);
                            ia[q][hh] = gq == 1 ? w32 : _mm256_add_epi32(ia[q][hh], w32);
                        }
                    }
                }
            }
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) {
                const int64_t s = sq + q;
                __m256 sc[2], mn[2];
                R::scales(u, static_cast<int>(s % R::kSubs), p, sc, mn);
                const __m256 da = _mm256_set1_ps(act.d[s]);
#pragma GCC unroll 2
                for (int hh = 0; hh < 2; ++hh) {
                    const __m256 ds = _mm256_set1_ps(act.ds16[2 * s + hh]);
                    f[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[q][hh]), _mm256_mul_ps(sc[hh], da), f[p]);
                    f[p] = _mm256_fmadd_ps(mn[hh], ds, f[p]);
                }
            }
        }
    }
}

// One 16-row tile x NC activation columns over sub-blocks [s0, s1); out[c][0..16) receives the
// sums (continued from out when accumulate, as the panel kernel does across k-chunks).
template <class R, int NC>
void tile_cols(const uint8_t* tile, const ActRow* act, int64_t s0, int64_t s1, float* const* out, bool accumulate) {
    if constexpr (HasQuad<R>::value && NC == 1) {
        if (s0 % 4 == 0 && s1 % 4 == 0) {
            __m256 f[2];
#pragma GCC unroll 2
            for (int p = 0; p < 2; ++p) f[p] = accumulate ? _mm256_loadu_ps(out[0] + 8 * p) : _mm256_setzero_ps();
            tile_col_quad<R>(tile, act[0], s0, s1, f);
#pragma GCC unroll 2
            for (int p = 0; p < 2; ++p) _mm256_storeu_ps(out[0] + 8 * p, f[p]);
            return;
        }
    }
    constexpr int kHalves = R::kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    __m256 f[2][NC];
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p)
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) f[p][c] = accumulate ? _mm256_loadu_ps(out[c] + 8 * p) : _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t s = s0; s < s1; ++s) {
        const uint8_t* u = tile + (s / R::kSubs) * R::kUnit;
        const int si = static_cast<int>(s % R::kSubs);
        // K-format units are read back and forth (scales at the end): prefetch ahead linearly
        constexpr int kStep = R::kUnit / R::kSubs;
        const uint8_t* ahead = u + si * kStep + kDecodePrefetch;
#pragma GCC unroll 2
        for (int p = 0; p < 2; ++p) {
            __m256i wv[8];
            R::weights(u, si, p, wv);
            __m256 sc[2], mn[2];
            R::scales(u, si, p, sc, mn);
#pragma GCC unroll 2
            for (int h = 0; h < kHalves; ++h) {
                __m256i ia[NC], s16[NC];
#pragma GCC unroll 8
                for (int gq = 0; gq < kGroups; ++gq) {
                    const int g = h * kGroups + gq;
                    prefetch_lines<1>(ahead + (8 * p + g) * kStep / 16);  // its 16th of the sub-block, and on
                    const bool first = gq % R::kRun == 0;
                    const bool last = gq % R::kRun == R::kRun - 1 || gq == kGroups - 1;
                    // signed formats: maddubs(|q|, sign(a, q)) = q * a
                    const __m256i wa = R::kSigned ? _mm256_abs_epi8(wv[g]) : wv[g];
#pragma GCC unroll 4
                    for (int c = 0; c < NC; ++c) {
                        int32_t a4;
                        std::memcpy(&a4, act[c].q + 32 * s + 4 * g, 4);
                        const __m256i ab = _mm256_set1_epi32(a4);
                        __m256i prod;
                        if constexpr (R::kSigned) prod = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(ab, wv[g]));
                        else prod = _mm256_maddubs_epi16(wa, ab);
                        s16[c] = first ? prod : _mm256_add_epi16(s16[c], prod);
                        if (last) {
                            const __m256i w32 = _mm256_madd_epi16(s16[c], ones);
                            ia[c] = gq < R::kRun ? w32 : _mm256_add_epi32(ia[c], w32);
                        }
                    }
                }
#pragma GCC unroll 4
                for (int c = 0; c < NC; ++c) {
                    const __m256 da = _mm256_set1_ps(act[c].d[s]);
                    const __m256 ds = _mm256_set1_ps(R::kSub16 ? act[c].ds16[2 * s + h] : act[c].ds32[s]);
                    f[p][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[c]), _mm256_mul_ps(sc[h], da), f[p][c]);
                    f[p][c] = _mm256_fmadd_ps(mn[h], ds, f[p][c]);
                }
            }
        }
    }
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p)
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out[c] + 8 * p, f[p][c]);
}

template <class R>
void tile_ncols(int nc, const uint8_t* tile, const ActRow* act, int64_t s0, int64_t s1, float* const* out, bool acc) {
    switch (nc) {
        case 4: tile_cols<R, 4>(tile, act, s0, s1, out, acc); break;
        case 3: tile_cols<R, 3>(tile, act, s0, s1, out, acc); break;
        case 2: tile_cols<R, 2>(tile, act, s0, s1, out, acc); break;
        default: tile_cols<R, 1>(tile, act, s0, s1, out, acc); break;
    }
}

constexpr int kCols = 4;             // activation columns per tile pass (16 ymm registers)
constexpr int64_t kChunkSubs = 32;   // sub-blocks per k-chunk when many column tiles reuse a tile

template <class R>
void run(const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1, float* out,
         int64_t out_stride) {
    const int64_t nb = k / 32;
    const size_t tile_bytes = static_cast<size_t>(nb / R::kSubs) * R::kUnit;
    // One pass over k when all columns fit one column tile (decode); else k-chunks so the tile's
    // slice stays in cache across the column tiles. Either way every output has the same fma chain.
    const int64_t chunk = n <= kCols ? nb : kChunkSubs;
    for (int64_t i0 = r0; i0 < r1; i0 += 16) {
        const uint8_t* tile = static_cast<const uint8_t*>(packed) + static_cast<size_t>(i0 / 16) * tile_bytes;
        for (int64_t s0 = 0; s0 < nb; s0 += chunk) {
            const int64_t s1 = s0 + chunk < nb ? s0 + chunk : nb;
            for (int64_t c0 = 0; c0 < n; c0 += kCols) {
                const int nc = static_cast<int>(n - c0 < kCols ? n - c0 : kCols);
                ActRow act[kCols];
                float* o[kCols];
                for (int c = 0; c < nc; ++c) {
                    act[c] = act_row(a_q, k, c0 + c);
                    o[c] = out + (c0 + c) * out_stride + i0;
                }
                tile_ncols<R>(nc, tile, act, s0, s1, o, s0 > 0);
            }
        }
    }
}

}  // namespace

bool repacked_avx2_supports(DType t) {
    switch (t) {
        case DType::Q4_0: case DType::Q8_0: case DType::Q4_K: case DType::Q6_K: case DType::Q4_1: case DType::Q5_0:
        case DType::Q5_1: case DType::IQ4_NL: case DType::IQ4_XS: case DType::Q5_K: case DType::Q2_K: case DType::Q3_K:
            return true;
        default: return false;
    }
}

void matmul_repacked_avx2(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                          float* out, int64_t out_stride) {
    switch (t) {
        case DType::Q4_0: return run<RQ4_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q8_0: return run<RQ8_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_K: return run<RQ4_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q6_K: return run<RQ6_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_1: return run<RQ4_1>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_0: return run<RQ5_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_1: return run<RQ5_1>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_NL: return run<RIQ4_NL>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_XS: return run<RIQ4_XS>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_K: return run<RQ5_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q2_K: return run<RQ2_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q3_K: return run<RQ3_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        default: HEARTH_ASSERT_MSG(false, "repacked AVX2 matmul: unsupported type");
    }
}

}  // namespace hearth::cpu::detail
