// AVX-512 VNNI matmul over repacked weights (layouts in repack.h): one zmm = 16 weight rows, each
// activation 4-byte group broadcast to all of them. Per output the float work is exactly the panel
// kernel's (matmul_x86_panels.h, panel_tile512): per sub-block s and half h,
//   f = fma(float(int dot), sc*da, f); f = fma(mn, ds, f)
// in ascending (s, h) order, so results are bitwise those of the unpacked path for every batch size.
// Formats whose offset is an integer power of two (value = sc*(u - 2^kOffsetShift): Q4_0, Q5_0,
// Q8_0, IQ4, Q6_K, Q3_K) take it exactly in the integer dot instead: the dot starts from
// -sum(a) << kOffsetShift (act.ns32 / ns16) and the mn fma is dropped.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/matmul_prefetch.h"
#include "core/error.h"

namespace hearth::cpu::detail {
namespace {

inline __m512i ldz(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512 f16x16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 u8x16(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 i8x16(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 cvt(__m512i v) { return _mm512_maskz_cvtepi32_ps(static_cast<__mmask16>(0xFFFF), v); }

// Per format: kSubs sub-blocks per unit, kUnit bytes per unit, kSub16 (scales per 16 elements),
// weights(unit, s, wv): the 8 weight vectors (group g = elements 4g..4g+3 of sub-block s, u8),
// scales(unit, s, sc, mn): per-row scale / offset of sub-block s (half h in sc[h] / mn[h]), computed
// with the same float operations as the panel kernel's decoders (matmul_x86_decode.h).
// kOffsetShift: u - 2^kOffsetShift is the signed weight (-1: a float offset/min, kept in mn).
struct RQ4_0 {
    static constexpr int kOffsetShift = 3;
    static constexpr int kSubs = 1, kUnit = 288;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m512i z = ldz(u + 64 * j);
            wv[j] = _mm512_and_si512(z, m4);
            wv[j + 4] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
        }
    }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 256);
        mn[0] = _mm512_mul_ps(sc[0], _mm512_set1_ps(-8.0f));
    }
};

struct RQ5_0 {
    static constexpr int kOffsetShift = 4;
    static constexpr int kSubs = 1, kUnit = 352;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), c10 = _mm512_set1_epi8(0x10);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m512i z = ldz(u + 64 * j);
            uint64_t lo, hi;
            std::memcpy(&lo, u + 256 + 16 * j, 8);
            std::memcpy(&hi, u + 256 + 16 * j + 8, 8);
            const __m512i l = _mm512_and_si512(z, m4);
            wv[j] = _mm512_mask_add_epi8(l, static_cast<__mmask64>(lo), l, c10);
            const __m512i h = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
            wv[j + 4] = _mm512_mask_add_epi8(h, static_cast<__mmask64>(hi), h, c10);
        }
    }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 320);
        mn[0] = _mm512_mul_ps(sc[0], _mm512_set1_ps(-16.0f));
    }
};

struct RQ4_1 {
    static constexpr int kOffsetShift = -1;
    static constexpr int kSubs = 1, kUnit = 320;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) { RQ4_0::weights(u, s, wv); }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 256);
        mn[0] = f16x16(u + 288);
    }
};

struct RQ5_1 {
    static constexpr int kOffsetShift = -1;
    static constexpr int kSubs = 1, kUnit = 384;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) { RQ5_0::weights(u, s, wv); }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 320);
        mn[0] = f16x16(u + 352);
    }
};

struct RQ2_K {
    static constexpr int kOffsetShift = -1;
    static constexpr int kSubs = 8, kUnit = 1344;
    static constexpr bool kSub16 = true;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) {
        const __m512i m2 = _mm512_set1_epi8(3);
        const int h = s >> 2, j = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m512i z = ldz(u + 64 * (8 * h + g));
            wv[g] = _mm512_and_si512(j == 0 ? z : _mm512_srli_epi16(z, 2 * j), m2);
        }
    }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        const __m512 d = f16x16(u + 1280), nd = _mm512_sub_ps(_mm512_setzero_ps(), f16x16(u + 1312));
        const __m512i m4 = _mm512_set1_epi32(0x0F);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {
            const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + 1024 + 16 * (2 * s + hh))));
            sc[hh] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(b, m4)));
            mn[hh] = _mm512_mul_ps(nd, _mm512_cvtepi32_ps(_mm512_srli_epi32(b, 4)));
        }
    }
};

struct RQ3_K {
    static constexpr int kOffsetShift = 2;
    static constexpr int kSubs = 8, kUnit = 1824;
    static constexpr bool kSub16 = true;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) {
        const __m512i m2 = _mm512_set1_epi8(3), c4 = _mm512_set1_epi8(4);
        const __m512i bit = _mm512_set1_epi8(static_cast<char>(1 << s));
        const int h = s >> 2, j = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m512i z = ldz(u + 64 * (8 * h + g));
            const __m512i lo = _mm512_and_si512(j == 0 ? z : _mm512_srli_epi16(z, 2 * j), m2);
            wv[g] = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(ldz(u + 1024 + 64 * g), bit), lo, c4);
        }
    }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        const __m512 d = f16x16(u + 1792);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {
            sc[hh] = _mm512_mul_ps(d, _mm512_sub_ps(u8x16(u + 1536 + 16 * (2 * s + hh)), _mm512_set1_ps(32.0f)));
            mn[hh] = _mm512_mul_ps(sc[hh], _mm512_set1_ps(-4.0f));
        }
    }
};

struct RQ8_0 {
    static constexpr int kOffsetShift = 7;
    static constexpr int kSubs = 1, kUnit = 544;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int, __m512i wv[8]) {
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) wv[g] = ldz(u + 64 * g);  // q ^ 0x80 = q + 128
    }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 512);
        mn[0] = _mm512_fnmadd_ps(sc[0], _mm512_set1_ps(128.0f), _mm512_setzero_ps());  // the +128 offset
    }
};

struct RQ4_K {
    static constexpr int kOffsetShift = -1;
    static constexpr int kSubs = 8, kUnit = 2368;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        const uint8_t* p = u + 512 * (s >> 1);
        if (s & 1) {
#pragma GCC unroll 8
            for (int g = 0; g < 8; ++g) wv[g] = _mm512_and_si512(_mm512_srli_epi16(ldz(p + 64 * g), 4), m4);
        } else {
#pragma GCC unroll 8
            for (int g = 0; g < 8; ++g) wv[g] = _mm512_and_si512(ldz(p + 64 * g), m4);
        }
    }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        sc[0] = _mm512_mul_ps(f16x16(u + 2048), u8x16(u + 2112 + 16 * s));
        mn[0] = _mm512_mul_ps(f16x16(u + 2080), _mm512_sub_ps(_mm512_setzero_ps(), u8x16(u + 2240 + 16 * s)));
    }
};

// IQ4 code book ^ 0x80 (= value + 128, unsigned) in each 128-bit lane.
inline __m512i iq4_lut_u8() {
    const __m128i t = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm512_xor_si512(_mm512_broadcast_i32x4(t), _mm512_set1_epi8(-128));
}

struct RIQ4_NL {
    static constexpr int kOffsetShift = 7;
    static constexpr int kSubs = 1, kUnit = 288;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), lut = iq4_lut_u8();
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            const __m512i z = ldz(u + 64 * j);
            wv[j] = _mm512_shuffle_epi8(lut, _mm512_and_si512(z, m4));
            wv[j + 4] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(z, 4), m4));
        }
    }
    static void scales(const uint8_t* u, int, __m512 sc[2], __m512 mn[2]) {
        sc[0] = f16x16(u + 256);
        mn[0] = _mm512_fnmadd_ps(sc[0], _mm512_set1_ps(128.0f), _mm512_setzero_ps());
    }
};

struct RQ5_K {
    static constexpr int kOffsetShift = -1;
    static constexpr int kSubs = 8, kUnit = 2880;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), c10 = _mm512_set1_epi8(0x10);
        const __m512i bit = _mm512_set1_epi8(static_cast<char>(1 << s));
        const uint8_t* p = u + 512 * (s >> 1);
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const __m512i z = ldz(p + 64 * g);
            const __m512i lo = (s & 1) ? _mm512_and_si512(_mm512_srli_epi16(z, 4), m4) : _mm512_and_si512(z, m4);
            wv[g] = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(ldz(u + 2048 + 64 * g), bit), lo, c10);
        }
    }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        sc[0] = _mm512_mul_ps(f16x16(u + 2560), u8x16(u + 2624 + 16 * s));
        mn[0] = _mm512_mul_ps(f16x16(u + 2592), _mm512_sub_ps(_mm512_setzero_ps(), u8x16(u + 2752 + 16 * s)));
    }
};

struct RIQ4_XS {
    static constexpr int kOffsetShift = 7;
    static constexpr int kSubs = 8, kUnit = 2208;
    static constexpr bool kSub16 = false;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) { RIQ4_NL::weights(u + 256 * s, 0, wv); }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        sc[0] = _mm512_mul_ps(f16x16(u + 2048), _mm512_sub_ps(u8x16(u + 2080 + 16 * s), _mm512_set1_ps(32.0f)));
        mn[0] = _mm512_fnmadd_ps(sc[0], _mm512_set1_ps(128.0f), _mm512_setzero_ps());
    }
};

struct RQ6_K {
    static constexpr int kOffsetShift = 5;
    static constexpr int kSubs = 8, kUnit = 3360;
    static constexpr bool kSub16 = true, kQuad = true;
    static void weights(const uint8_t* u, int s, __m512i wv[8]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x30);
        const int h = s >> 2, q = s & 3;
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            const uint8_t* z = u + 192 * (8 * h + g);
            const __m512i ql = ldz(z + 64 * (q & 1)), qh = ldz(z + 128);
            const __m512i lo = q < 2 ? _mm512_and_si512(ql, m4) : _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4);
            __m512i hb;
            if (q == 0) hb = _mm512_slli_epi16(qh, 4);
            else if (q == 1) hb = _mm512_slli_epi16(qh, 2);
            else if (q == 2) hb = qh;
            else hb = _mm512_srli_epi16(qh, 2);
            wv[g] = _mm512_or_si512(lo, _mm512_and_si512(hb, m3));
        }
    }
    // Group g of the 4 sub-blocks 4h..4h+3 from one load each of ql0 / ql1 / qh (decode fast path).
    static void quad_group(const uint8_t* u, int h, int g, __m512i w[4]) {
        const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x30);
        const uint8_t* z = u + 192 * (8 * h + g);
        const __m512i ql0 = ldz(z), ql1 = ldz(z + 64), qh = ldz(z + 128);
        w[0] = _mm512_or_si512(_mm512_and_si512(ql0, m4), _mm512_and_si512(_mm512_slli_epi16(qh, 4), m3));
        w[1] = _mm512_or_si512(_mm512_and_si512(ql1, m4), _mm512_and_si512(_mm512_slli_epi16(qh, 2), m3));
        w[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql0, 4), m4), _mm512_and_si512(qh, m3));
        w[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql1, 4), m4),
                               _mm512_and_si512(_mm512_srli_epi16(qh, 2), m3));
    }
    static void scales(const uint8_t* u, int s, __m512 sc[2], __m512 mn[2]) {
        const __m512 d = f16x16(u + 3328), m32 = _mm512_set1_ps(-32.0f);
#pragma GCC unroll 2
        for (int hh = 0; hh < 2; ++hh) {
            sc[hh] = _mm512_mul_ps(d, i8x16(u + 3072 + 16 * (2 * s + hh)));
            mn[hh] = _mm512_mul_ps(sc[hh], m32);
        }
    }
};

// The integer dot's starting value for column act, sub-block s, half h: the exact offset term
// -2^shift * sum(a) of formats with an integer offset, else 0.
template <int kShift, bool kSub16>
inline __m512i dot_init(const ActRow& act, int64_t s, int h) {
    if constexpr (kShift < 0) {
        return _mm512_setzero_si512();
    } else {
        const int32_t ns = kSub16 ? act.ns16[2 * s + h] : act.ns32[s];
        return _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(ns) << kShift));
    }
}

template <class R, class = void>
struct HasQuad : std::false_type {};
template <class R>
struct HasQuad<R, std::void_t<decltype(R::kQuad)>> : std::bool_constant<R::kQuad> {};

// Q6_K with 1-2 columns over whole quads [s0, s1) (s0, s1 multiples of 4): the integer dots of 4
// sub-blocks come from one decode of their shared bytes, then the float chain runs in (s, h) order
// exactly as in tile_cols.
template <class R, int NC>
void tile_cols_quad(const uint8_t* tile, const ActRow* act, int64_t s0, int64_t s1, __m512* f) {
    for (int64_t sq = s0; sq < s1; sq += 4) {
        const uint8_t* u = tile + (sq / R::kSubs) * R::kUnit;
        const int h = static_cast<int>((sq % R::kSubs) / 4);
        const uint8_t* ahead = u + (sq % R::kSubs) * (R::kUnit / R::kSubs) + kDecodePrefetch;
        __m512i ia[4][2][NC];
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
#pragma GCC unroll 2
            for (int hh = 0; hh < 2; ++hh)
#pragma GCC unroll 2
                for (int c = 0; c < NC; ++c) ia[q][hh][c] = dot_init<R::kOffsetShift, true>(act[c], sq + q, hh);
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
            prefetch_lines<4>(ahead + g * (4 * (R::kUnit / R::kSubs)) / 8);  // its eighth of the quad, and on
            __m512i w[4];
            R::quad_group(u, h, g, w);
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q)
#pragma GCC unroll 2
                for (int c = 0; c < NC; ++c) {
                    int32_t a4;
                    std::memcpy(&a4, act[c].q + 32 * (sq + q) + 4 * g, 4);
                    ia[q][g / 4][c] = _mm512_dpbusd_epi32(ia[q][g / 4][c], w[q], _mm512_set1_epi32(a4));
                }
        }
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
            const int64_t s = sq + q;
            __m512 sc[2], mn[2];
            R::scales(u, static_cast<int>(s % R::kSubs), sc, mn);
#pragma GCC unroll 2
            for (int hh = 0; hh < 2; ++hh)
#pragma GCC unroll 2
                for (int c = 0; c < NC; ++c) {
                    const __m512 da = _mm512_set1_ps(act[c].d[s]);
                    const __m512 ds = _mm512_set1_ps(act[c].ds16[2 * s + hh]);
                    f[c] = _mm512_fmadd_ps(cvt(ia[q][hh][c]), _mm512_mul_ps(sc[hh], da), f[c]);
                    if constexpr (R::kOffsetShift < 0) f[c] = _mm512_fmadd_ps(mn[hh], ds, f[c]);
                }
        }
    }
}

// One 16-row tile x NC activation columns over sub-blocks [s0, s1); out[c][0..16) receives the
// sums (continued from out when accumulate, as the panel kernel does).
template <class R, int NC>
void tile_cols(const uint8_t* tile, const ActRow* act, int64_t s0, int64_t s1, float* const* out, bool accumulate) {
    if constexpr (HasQuad<R>::value && NC <= 2) {
        if (s0 % 4 == 0 && s1 % 4 == 0) {
            __m512 f[NC];
#pragma GCC unroll 2
            for (int c = 0; c < NC; ++c) f[c] = accumulate ? _mm512_loadu_ps(out[c]) : _mm512_setzero_ps();
            tile_cols_quad<R, NC>(tile, act, s0, s1, f);
#pragma GCC unroll 2
            for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out[c], f[c]);
            return;
        }
    }
    constexpr int kHalves = R::kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    // Few columns: split each integer dot over independent accumulators (exact, so the sum is the
    // same) to shorten the dpbusd dependency chain.
    constexpr int kSplit = NC == 1 ? 4 : (NC == 2 ? 2 : 1);
    __m512 f[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) f[c] = accumulate ? _mm512_loadu_ps(out[c]) : _mm512_setzero_ps();
    for (int64_t s = s0; s < s1; ++s) {
        const uint8_t* u = tile + (s / R::kSubs) * R::kUnit;
        const int si = static_cast<int>(s % R::kSubs);
        // A K-format unit is read back and forth (scales at its end), which defeats the hardware
        // prefetcher on DRAM-resident matrices: fetch kDecodePrefetch bytes ahead of the linear
        // progress through the tile (tiles are contiguous, so this runs into the next tile too), a
        // few lines per group (matmul_prefetch.h).
        constexpr int kStep = R::kUnit / R::kSubs;
        const uint8_t* ahead = u + si * kStep + kDecodePrefetch;
        __m512i wv[8];
        R::weights(u, si, wv);
        __m512 sc[2], mn[2];
        R::scales(u, si, sc, mn);
#pragma GCC unroll 2
        for (int h = 0; h < kHalves; ++h) {
            __m512i ia[NC][kSplit];
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
                for (int x = 0; x < kSplit; ++x)
                    ia[c][x] = x == 0 ? dot_init<R::kOffsetShift, R::kSub16>(act[c], s, h) : _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int gq = 0; gq < kGroups; ++gq) {
                const int g = h * kGroups + gq;
                prefetch_lines<2>(ahead + g * kStep / 8);  // its eighth of the sub-block, and on
#pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) {
                    int32_t a4;
                    std::memcpy(&a4, act[c].q + 32 * s + 4 * g, 4);
                    ia[c][gq % kSplit] = _mm512_dpbusd_epi32(ia[c][gq % kSplit], wv[g], _mm512_set1_epi32(a4));
                }
            }
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                __m512i sum = ia[c][0];
#pragma GCC unroll 4
                for (int x = 1; x < kSplit; ++x) sum = _mm512_add_epi32(sum, ia[c][x]);
                const __m512 da = _mm512_set1_ps(act[c].d[s]);
                const __m512 ds = _mm512_set1_ps(R::kSub16 ? act[c].ds16[2 * s + h] : act[c].ds32[s]);
                f[c] = _mm512_fmadd_ps(cvt(sum), _mm512_mul_ps(sc[h], da), f[c]);
                if constexpr (R::kOffsetShift < 0) f[c] = _mm512_fmadd_ps(mn[h], ds, f[c]);
            }
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out[c], f[c]);
}

template <class R>
void tile_ncols(int nc, const uint8_t* tile, const ActRow* act, int64_t s0, int64_t s1, float* const* out, bool acc) {
    switch (nc) {
        case 8: tile_cols<R, 8>(tile, act, s0, s1, out, acc); break;
        case 7: tile_cols<R, 7>(tile, act, s0, s1, out, acc); break;
        case 6: tile_cols<R, 6>(tile, act, s0, s1, out, acc); break;
        case 5: tile_cols<R, 5>(tile, act, s0, s1, out, acc); break;
        case 4: tile_cols<R, 4>(tile, act, s0, s1, out, acc); break;
        case 3: tile_cols<R, 3>(tile, act, s0, s1, out, acc); break;
        case 2: tile_cols<R, 2>(tile, act, s0, s1, out, acc); break;
        default: tile_cols<R, 1>(tile, act, s0, s1, out, acc); break;
    }
}

constexpr int kCols = 8;             // activation columns per tile pass
constexpr int64_t kChunkSubs = 32;   // sub-blocks per k-chunk when many column tiles reuse a tile

// A tile's k-chunk decoded once (prompts: reused by every column group): per sub-block the 8
// weight vectors R::weights gives and the scales R::scales gives. ~20 KB, stays in L1.
struct DecodedChunk {
    __m512i w[kChunkSubs][8];
    __m512 sc[kChunkSubs][2], mn[kChunkSubs][2];
};

template <class R>
void decode_chunk(const uint8_t* tile, int64_t s0, int64_t s1, DecodedChunk& dc) {
    for (int64_t s = s0; s < s1; ++s) {
        const uint8_t* u = tile + (s / R::kSubs) * R::kUnit;
        const int si = static_cast<int>(s % R::kSubs);
        R::weights(u, si, dc.w[s - s0]);
        R::scales(u, si, dc.sc[s - s0], dc.mn[s - s0]);
    }
}

// tile_cols over NT decoded chunks (NT consecutive 16-row tiles, each activation broadcast serves
// all of them): per output the same integer dots and the same float chain as tile_cols.
template <bool kSub16, int kShift, int NT, int NC>
void tiles_cols_decoded(const DecodedChunk* dc, const ActRow* act, int64_t s0, int64_t s1, float* const* out,
                        bool accumulate) {
    constexpr int kHalves = kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    constexpr int kSplit = NT * NC == 1 ? 4 : (NT * NC == 2 ? 2 : 1);
    __m512 f[NT][NC];
#pragma GCC unroll 2
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) f[t][c] = accumulate ? _mm512_loadu_ps(out[c] + 16 * t) : _mm512_setzero_ps();
    for (int64_t s = s0; s < s1; ++s) {
#pragma GCC unroll 2
        for (int h = 0; h < kHalves; ++h) {
            __m512i ia[NT][NC][kSplit];
#pragma GCC unroll 2
            for (int t = 0; t < NT; ++t)
#pragma GCC unroll 8
                for (int c = 0; c < NC; ++c)
#pragma GCC unroll 4
                    for (int x = 0; x < kSplit; ++x)
                        ia[t][c][x] = x == 0 ? dot_init<kShift, kSub16>(act[c], s, h) : _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int gq = 0; gq < kGroups; ++gq) {
                const int g = h * kGroups + gq;
                __m512i w[NT];
#pragma GCC unroll 2
                for (int t = 0; t < NT; ++t) w[t] = _mm512_load_si512(dc[t].w[s - s0] + g);
#pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) {
                    int32_t a4;
                    std::memcpy(&a4, act[c].q + 32 * s + 4 * g, 4);
                    const __m512i av = _mm512_set1_epi32(a4);
#pragma GCC unroll 2
                    for (int t = 0; t < NT; ++t)
                        ia[t][c][gq % kSplit] = _mm512_dpbusd_epi32(ia[t][c][gq % kSplit], w[t], av);
                }
            }
#pragma GCC unroll 2
            for (int t = 0; t < NT; ++t) {
                const __m512 sc = _mm512_load_ps(&dc[t].sc[s - s0][h]), mn = _mm512_load_ps(&dc[t].mn[s - s0][h]);
#pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) {
                    __m512i sum = ia[t][c][0];
#pragma GCC unroll 4
                    for (int x = 1; x < kSplit; ++x) sum = _mm512_add_epi32(sum, ia[t][c][x]);
                    const __m512 da = _mm512_set1_ps(act[c].d[s]);
                    const __m512 ds = _mm512_set1_ps(kSub16 ? act[c].ds16[2 * s + h] : act[c].ds32[s]);
                    f[t][c] = _mm512_fmadd_ps(cvt(sum), _mm512_mul_ps(sc, da), f[t][c]);
                    if constexpr (kShift < 0) f[t][c] = _mm512_fmadd_ps(mn, ds, f[t][c]);
                }
            }
        }
    }
#pragma GCC unroll 2
    for (int t = 0; t < NT; ++t)
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out[c] + 16 * t, f[t][c]);
}

template <bool kSub16, int kShift, int NT>
void tiles_ncols_decoded(int nc, const DecodedChunk* dc, const ActRow* act, int64_t s0, int64_t s1,
                         float* const* out, bool acc) {
    switch (nc) {
        case 8: if constexpr (NT == 1) { tiles_cols_decoded<kSub16, kShift, NT, 8>(dc, act, s0, s1, out, acc); break; } [[fallthrough]];
        case 7: if constexpr (NT == 1) { tiles_cols_decoded<kSub16, kShift, NT, 7>(dc, act, s0, s1, out, acc); break; } [[fallthrough]];
        case 6: tiles_cols_decoded<kSub16, kShift, NT, 6>(dc, act, s0, s1, out, acc); break;
        case 5: tiles_cols_decoded<kSub16, kShift, NT, 5>(dc, act, s0, s1, out, acc); break;
        case 4: tiles_cols_decoded<kSub16, kShift, NT, 4>(dc, act, s0, s1, out, acc); break;
        case 3: tiles_cols_decoded<kSub16, kShift, NT, 3>(dc, act, s0, s1, out, acc); break;
        case 2: tiles_cols_decoded<kSub16, kShift, NT, 2>(dc, act, s0, s1, out, acc); break;
        default: tiles_cols_decoded<kSub16, kShift, NT, 1>(dc, act, s0, s1, out, acc); break;
    }
}

// Prompt shape (n > kCols): per k-chunk, NT tiles are decoded once and every column group reuses
// them; column groups of kPairCols when two tiles go together (register budget), else kCols.
constexpr int kPairCols = 4;
// Sub-blocks per k-chunk of a tile pair: two decoded chunks of 32 (2 x 24 KB, about L1) measured
// 2-9% faster than 16 at n = 512 on every type (fewer passes reloading the output accumulators).
constexpr int64_t kPairChunkSubs = 32;
static_assert(kPairChunkSubs <= kChunkSubs, "a DecodedChunk holds kChunkSubs sub-blocks");

template <class R, int NT>
void run_decoded(const uint8_t* tile0, size_t tile_bytes, const void* a_q, int64_t k, int64_t n, int64_t i0,
                 float* out, int64_t out_stride) {
    const int64_t nb = k / 32;
    constexpr int64_t chunk = NT == 1 ? kChunkSubs : kPairChunkSubs;
    constexpr int cols = NT == 1 ? kCols : kPairCols;
    alignas(64) DecodedChunk dc[NT];
    for (int64_t s0 = 0; s0 < nb; s0 += chunk) {
        const int64_t s1 = s0 + chunk < nb ? s0 + chunk : nb;
        for (int t = 0; t < NT; ++t) decode_chunk<R>(tile0 + t * tile_bytes, s0, s1, dc[t]);
        for (int64_t c0 = 0; c0 < n; c0 += cols) {
            const int nc = static_cast<int>(n - c0 < cols ? n - c0 : cols);
            ActRow act[kCols];
            float* o[kCols];
            for (int c = 0; c < nc; ++c) {
                act[c] = act_row(a_q, k, c0 + c);
                o[c] = out + (c0 + c) * out_stride + i0;
            }
            tiles_ncols_decoded<R::kSub16, R::kOffsetShift, NT>(nc, dc, act, s0, s1, o, s0 > 0);
        }
    }
}

template <class R>
void run(const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1, float* out,
         int64_t out_stride) {
    const int64_t nb = k / 32;
    const size_t tile_bytes = static_cast<size_t>(nb / R::kSubs) * R::kUnit;
    // One pass over k when all columns fit one column tile (decode); else k-chunks so the tile's
    // slice stays in L1 across the column tiles. Either way every output has the same fma chain.
    const int64_t chunk = n <= kCols ? nb : kChunkSubs;
    if (n > kCols) {  // many column groups: decode each tile chunk once, reuse it for all of them
        int64_t i0 = r0;
        for (; i0 + 32 <= r1; i0 += 32)
            run_decoded<R, 2>(static_cast<const uint8_t*>(packed) + static_cast<size_t>(i0 / 16) * tile_bytes, tile_bytes,
                              a_q, k, n, i0, out, out_stride);
        if (i0 < r1)
            run_decoded<R, 1>(static_cast<const uint8_t*>(packed) + static_cast<size_t>(i0 / 16) * tile_bytes, tile_bytes,
                              a_q, k, n, i0, out, out_stride);
        return;
    }
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

void matmul_repacked_avx512(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0,
                            int64_t r1, float* out, int64_t out_stride) {
    switch (t) {
        case DType::Q4_0: return run<RQ4_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_0: return run<RQ5_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q8_0: return run<RQ8_0>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_K: return run<RQ4_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q6_K: return run<RQ6_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_NL: return run<RIQ4_NL>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q4_1: return run<RQ4_1>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_1: return run<RQ5_1>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q2_K: return run<RQ2_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q3_K: return run<RQ3_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::Q5_K: return run<RQ5_K>(packed, a_q, k, n, r0, r1, out, out_stride);
        case DType::IQ4_XS: return run<RIQ4_XS>(packed, a_q, k, n, r0, r1, out, out_stride);
        default: HEARTH_ASSERT_MSG(false, "repacked matmul: unsupported type");
    }
}

}  // namespace hearth::cpu::detail
