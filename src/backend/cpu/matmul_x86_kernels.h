// x86 quantized matmul kernels built on the decoders of matmul_x86_decode.h: a row-streaming
// kernel for few activation columns (decode, n small) and a row-interleaved "panel" kernel for many
// columns (prompt). Included ONLY by matmul_avx2.cpp / matmul_avx512.cpp (anonymous namespace);
// HEARTH_MM_VNNI selects vpdpbusd instead of the maddubs/madd pair.
#pragma once

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/matmul_x86_decode.h"
#include "core/error.h"

namespace hearth::cpu {
namespace {

using detail::act_row;
using detail::ActRow;
using detail::thread_scratch;

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// acc + sum over 4-byte groups of u (unsigned, <= 127 without VNNI) * a (signed)
inline __m256i dot_u8(__m256i acc, __m256i u, __m256i a) {
#if HEARTH_MM_VNNI
    return _mm256_dpbusd_epi32(acc, u, a);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
#endif
}
// same with signed weights q (|q| <= 128)
inline __m256i dot_s8(__m256i acc, __m256i q, __m256i a) {
    return dot_u8(acc, _mm256_abs_epi8(q), _mm256_sign_epi8(a, q));
}

inline float hsum(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// p[0..n) in lanes 0..n-1, zeros above (never reads past p + n).
inline __m256 load_or_zero_tail(const float* p, int n) {
    if (n == 8) return _mm256_loadu_ps(p);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}

// ------------------------------------------------------------------------------------------------
// Row-streaming kernel: one weight row against one activation row, group (256 weights) at a time.
// ------------------------------------------------------------------------------------------------
// One group (8 sub-blocks of 32, or nsub < 8 at the end of a row of a 32-block format) of one
// weight row against C activation rows (the weights are decoded once for all C). NS, the number of
// sub-blocks, is a compile-time constant so every loop and tail test folds away.
template <class F, int NS, int C>
inline void group_dot(const uint8_t* wp, const ActRow* act, int64_t j0, __m256 (*acc)[2], __m256* macc) {
    constexpr int nsub = NS;
    constexpr bool kFull = NS == 8;
    constexpr bool kXor = F::kSigned && HEARTH_MM_VNNI;  // u = q ^ 0x80 = q + 128, offset -128*sc per sub-block
    Group g;
    F::decode(wp, nsub, g);
    if constexpr (kXor) {
#pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) g.u[s] = _mm256_xor_si256(g.u[s], _mm256_set1_epi8(-128));
        g.mn[0] = _mm256_fnmadd_ps(g.sc[0], _mm256_set1_ps(128.0f), g.mn[0]);
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
        const ActRow& a = act[c];
        const __m256 da = kFull ? _mm256_loadu_ps(a.d + j0) : load_or_zero_tail(a.d + j0, nsub);
        const int8_t* aq = a.q + j0 * 32;
        if constexpr (!F::kSub16) {
            const __m256 ds = kFull ? _mm256_loadu_ps(a.ds32 + j0) : load_or_zero_tail(a.ds32 + j0, nsub);
            const __m256 sv = _mm256_mul_ps(g.sc[0], da);  // lane s: weight scale * activation scale
            macc[c] = _mm256_fmadd_ps(g.mn[0], ds, macc[c]);
#pragma GCC unroll 8
            for (int s = 0; s < nsub; ++s) {
                const __m256i av = ld256(reinterpret_cast<const uint8_t*>(aq + 32 * s));
                const __m256i p = (F::kSigned && !kXor) ? dot_s8(_mm256_setzero_si256(), g.u[s], av)
                                                        : dot_u8(_mm256_setzero_si256(), g.u[s], av);
                const __m256 scale = _mm256_permutevar8x32_ps(sv, _mm256_set1_epi32(s));
                acc[c][s & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[c][s & 1]);
            }
        } else {
            // lanes 2t+h of sv0/sv1: scale of half h of sub-block t / 4+t, times da of that sub-block
            const __m256 da_lo = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
            const __m256 da_hi = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
            const __m256 sv0 = _mm256_mul_ps(g.sc[0], da_lo), sv1 = _mm256_mul_ps(g.sc[1], da_hi);
            macc[c] = _mm256_fmadd_ps(g.mn[0], _mm256_loadu_ps(a.ds16 + 2 * j0), macc[c]);
            macc[c] = _mm256_fmadd_ps(g.mn[1], _mm256_loadu_ps(a.ds16 + 2 * j0 + 8), macc[c]);
#pragma GCC unroll 8
            for (int s = 0; s < 8; ++s) {
                const __m256i av = ld256(reinterpret_cast<const uint8_t*>(aq + 32 * s));
                const __m256i p = dot_u8(_mm256_setzero_si256(), g.u[s], av);  // lanes 0-3: half 0, 4-7: half 1
                const int t = s & 3;
                const __m256i idx = _mm256_setr_epi32(2 * t, 2 * t, 2 * t, 2 * t, 2 * t + 1, 2 * t + 1, 2 * t + 1, 2 * t + 1);
                const __m256 scale = _mm256_permutevar8x32_ps(s < 4 ? sv0 : sv1, idx);
                acc[c][s & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[c][s & 1]);
            }
        }
    }
}

#if HEARTH_MM_VNNI
// group_dot for a full group with 512-bit vectors: each zmm holds two sub-blocks, halving the
// instruction count of the dot / convert / scale / accumulate chain.
template <class F, int C>
inline void group_dot512(const uint8_t* wp, const ActRow* act, int64_t j0, __m512 (*acc)[2], __m256* macc) {
    Group g;
    F::decode(wp, 8, g);
    __m512i u2[4];  // sub-blocks 2t (low half) and 2t+1 (high half)
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
        u2[t] = _mm512_inserti64x4(_mm512_castsi256_si512(g.u[2 * t]), g.u[2 * t + 1], 1);
        if constexpr (F::kSigned) u2[t] = _mm512_xor_si512(u2[t], _mm512_set1_epi8(-128));  // u = q + 128
    }
    if constexpr (F::kSigned) g.mn[0] = _mm256_fnmadd_ps(g.sc[0], _mm256_set1_ps(128.0f), g.mn[0]);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
        const ActRow& a = act[c];
        const __m256 da = _mm256_loadu_ps(a.d + j0);
        const int8_t* aq = a.q + j0 * 32;
        __m512 sv;
        if constexpr (!F::kSub16) {
            // lane s of the low 256 bits: scale of sub-block s
            sv = _mm512_castps256_ps512(_mm256_mul_ps(g.sc[0], da));
            macc[c] = _mm256_fmadd_ps(g.mn[0], _mm256_loadu_ps(a.ds32 + j0), macc[c]);
        } else {
            // lane 2s+h: scale of half h of sub-block s
            const __m256 da_lo = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
            const __m256 da_hi = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
            sv = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_mul_ps(g.sc[0], da_lo)), _mm256_mul_ps(g.sc[1], da_hi), 1);
            macc[c] = _mm256_fmadd_ps(g.mn[0], _mm256_loadu_ps(a.ds16 + 2 * j0), macc[c]);
            macc[c] = _mm256_fmadd_ps(g.mn[1], _mm256_loadu_ps(a.ds16 + 2 * j0 + 8), macc[c]);
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
            const __m512i av = _mm512_loadu_si512(aq + 64 * t);
            const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u2[t], av);
            __m512i idx;
            if constexpr (!F::kSub16) {
                idx = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * t)), _mm256_set1_epi32(2 * t + 1), 1);
            } else {
                idx = _mm512_setr_epi32(4 * t, 4 * t, 4 * t, 4 * t, 4 * t + 1, 4 * t + 1, 4 * t + 1, 4 * t + 1,  //
                                        4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 3, 4 * t + 3, 4 * t + 3, 4 * t + 3);
            }
            acc[c][t & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx, sv), acc[c][t & 1]);
        }
    }
}
#endif

#if HEARTH_MM_VNNI
// Nibble formats (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) keep elements e and e+16 of a block in one byte.
// For decode, the 16-byte nibble arrays of 4 blocks fill one zmm; its low nibbles (elements 0..15 of
// each block) and high nibbles (16..31) meet an activation copy re-laid the same way, per 4 blocks:
//   [a_b[0..16) for b = 0..3] (64 bytes), then [a_b[16..32) for b = 0..3] (64 bytes).
template <class F>
struct Split {
    static constexpr bool kOn = false;
};
template <>
struct Split<FmtQ4_0> {
    static constexpr bool kOn = true, kLut = false;
    static constexpr int kBlock = 18, kQs = 2, kQh = -1;
};
template <>
struct Split<FmtQ4_1> {
    static constexpr bool kOn = true, kLut = false;
    static constexpr int kBlock = 20, kQs = 4, kQh = -1;
};
template <>
struct Split<FmtQ5_0> {
    static constexpr bool kOn = true, kLut = false;
    static constexpr int kBlock = 22, kQs = 6, kQh = 2;
};
template <>
struct Split<FmtQ5_1> {
    static constexpr bool kOn = true, kLut = false;
    static constexpr int kBlock = 24, kQs = 8, kQh = 4;
};
template <>
struct Split<FmtIQ4_NL> {
    static constexpr bool kOn = true, kLut = true;
    static constexpr int kBlock = 18, kQs = 2, kQh = -1;
};

// q[0, nq*128) -> dst in the split layout above (nq = number of 4-block quads).
inline void split_activation(const int8_t* q, int64_t nq, int8_t* dst) {
    const __m512i lo_idx = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
    const __m512i hi_idx = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
    for (int64_t t = 0; t < nq; ++t) {
        const __m512i z0 = _mm512_loadu_si512(q + 128 * t), z1 = _mm512_loadu_si512(q + 128 * t + 64);
        _mm512_storeu_si512(dst + 128 * t, _mm512_permutex2var_epi64(z0, lo_idx, z1));
        _mm512_storeu_si512(dst + 128 * t + 64, _mm512_permutex2var_epi64(z0, hi_idx, z1));
    }
}

// A full group (8 blocks) of a nibble format against C split activation rows.
template <class F, int C>
inline void group_dot512_split(const uint8_t* wp, const ActRow* act, const int8_t* const* split, int64_t j0,
                               __m512 (*acc)[2], __m256* macc) {
    using S = Split<F>;
    __m256 sc, mn;
    F::scales(wp, 8, sc, mn);
    if constexpr (S::kLut) mn = _mm256_fnmadd_ps(sc, _mm256_set1_ps(128.0f), mn);  // u = table value + 128
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i lo[2], hi[2];
#pragma GCC unroll 2
    for (int t = 0; t < 2; ++t) {
        const uint8_t* b = wp + 4 * t * S::kBlock;
        __m512i z = _mm512_castsi128_si512(ld128(b + S::kQs));
        z = _mm512_inserti32x4(z, ld128(b + S::kBlock + S::kQs), 1);
        z = _mm512_inserti32x4(z, ld128(b + 2 * S::kBlock + S::kQs), 2);
        z = _mm512_inserti32x4(z, ld128(b + 3 * S::kBlock + S::kQs), 3);
        lo[t] = _mm512_and_si512(z, m4);
        hi[t] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
        if constexpr (S::kQh >= 0) {  // 5th bits: bit e of block qh -> byte 16*block + e (e < 16) / of hi (e >= 16)
            uint64_t mlo = 0, mhi = 0;
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q) {
                const uint64_t qh = ld32(b + q * S::kBlock + S::kQh);
                mlo |= (qh & 0xFFFFu) << (16 * q);
                mhi |= (qh >> 16) << (16 * q);
            }
            const __m512i c10 = _mm512_set1_epi8(0x10);
            lo[t] = _mm512_mask_add_epi8(lo[t], static_cast<__mmask64>(mlo), lo[t], c10);
            hi[t] = _mm512_mask_add_epi8(hi[t], static_cast<__mmask64>(mhi), hi[t], c10);
        }
        if constexpr (S::kLut) {
            const __m512i lut = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm256_castsi256_si128(iq4_table())),
                                                 _mm512_set1_epi8(-128));
            lo[t] = _mm512_shuffle_epi8(lut, lo[t]);
            hi[t] = _mm512_shuffle_epi8(lut, hi[t]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
        const ActRow& a = act[c];
        const __m512 sv = _mm512_castps256_ps512(_mm256_mul_ps(sc, _mm256_loadu_ps(a.d + j0)));
        macc[c] = _mm256_fmadd_ps(mn, _mm256_loadu_ps(a.ds32 + j0), macc[c]);
        const int8_t* aq = split[c] + j0 * 32;
#pragma GCC unroll 2
        for (int t = 0; t < 2; ++t) {
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[t], _mm512_loadu_si512(aq + 128 * t));
            p = _mm512_dpbusd_epi32(p, hi[t], _mm512_loadu_si512(aq + 128 * t + 64));
            const __m512i idx = _mm512_setr_epi32(4 * t, 4 * t, 4 * t, 4 * t, 4 * t + 1, 4 * t + 1, 4 * t + 1, 4 * t + 1,
                                                  4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 3, 4 * t + 3, 4 * t + 3,
                                                  4 * t + 3);
            acc[c][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(idx, sv), acc[c][t]);
        }
    }
}
#endif

// One weight row . C activation rows -> out[c * out_stride]
// split: C activation rows in the nibble-split layout (VNNI nibble formats only, else unused).
template <class F, int C>
void dot_row_cols(const uint8_t* row, const ActRow* act, const int8_t* const* split, int64_t k, float* out,
                  int64_t out_stride) {
    const int64_t nb = k / 32;  // 32-element sub-blocks
    // 2 accumulators per column so the fma latency does not bound the loop
    __m256 acc[C][2], macc[C];
    for (int c = 0; c < C; ++c) acc[c][0] = acc[c][1] = macc[c] = _mm256_setzero_ps();
    const int64_t nfull = nb / 8;
#if HEARTH_MM_VNNI
    __m512 acc512[C][2];
    for (int c = 0; c < C; ++c) acc512[c][0] = acc512[c][1] = _mm512_setzero_ps();
    for (int64_t G = 0; G < nfull; ++G) {
        if constexpr (Split<F>::kOn) group_dot512_split<F, C>(row + G * F::kGroupBytes, act, split, 8 * G, acc512, macc);
        else group_dot512<F, C>(row + G * F::kGroupBytes, act, 8 * G, acc512, macc);
    }
    for (int c = 0; c < C; ++c) {
        const __m512 t = _mm512_add_ps(acc512[c][0], acc512[c][1]);
        acc[c][0] = _mm256_add_ps(acc[c][0], _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1)));
    }
#else
    for (int64_t G = 0; G < nfull; ++G) group_dot<F, 8, C>(row + G * F::kGroupBytes, act, 8 * G, acc, macc);
#endif
    const uint8_t* tail = row + nfull * F::kGroupBytes;
    switch (nb % 8) {  // a row of a 32-block format may end in a partial group
        case 1: group_dot<F, 1, C>(tail, act, 8 * nfull, acc, macc); break;
        case 2: group_dot<F, 2, C>(tail, act, 8 * nfull, acc, macc); break;
        case 3: group_dot<F, 3, C>(tail, act, 8 * nfull, acc, macc); break;
        case 4: group_dot<F, 4, C>(tail, act, 8 * nfull, acc, macc); break;
        case 5: group_dot<F, 5, C>(tail, act, 8 * nfull, acc, macc); break;
        case 6: group_dot<F, 6, C>(tail, act, 8 * nfull, acc, macc); break;
        case 7: group_dot<F, 7, C>(tail, act, 8 * nfull, acc, macc); break;
        default: break;
    }
    for (int c = 0; c < C; ++c) out[c * out_stride] = hsum(_mm256_add_ps(_mm256_add_ps(acc[c][0], acc[c][1]), macc[c]));
}

// Few activation columns (decode): each weight row is streamed once and decoded once for all columns.
template <class F>
void matmul_rows(const uint8_t* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                 float* out, int64_t out_stride) {
    HEARTH_ASSERT(n >= 1 && n <= 3);
    ActRow act[3];
    const int8_t* split[3] = {nullptr, nullptr, nullptr};
    for (int64_t c = 0; c < n; ++c) act[c] = act_row(a_q, k, c);
#if HEARTH_MM_VNNI
    if constexpr (Split<F>::kOn) {  // re-lay the activation rows once per call (full groups only)
        const int64_t nq = k / 256 * 2;
        int8_t* buf = static_cast<int8_t*>(thread_scratch(static_cast<size_t>(3 * k)));
        for (int64_t c = 0; c < n; ++c) {
            split_activation(act[c].q, nq, buf + c * k);
            split[c] = buf + c * k;
        }
    }
#endif
    for (int64_t i = r0; i < r1; ++i) {
        const uint8_t* row = w + i * wrb;
        if (n == 1) dot_row_cols<F, 1>(row, act, split, k, out + i, out_stride);
        else if (n == 2) dot_row_cols<F, 2>(row, act, split, k, out + i, out_stride);
        else dot_row_cols<F, 3>(row, act, split, k, out + i, out_stride);
    }
}

// ------------------------------------------------------------------------------------------------
// Panel kernel. 8 weight rows are decoded once into a row-interleaved panel, then every group of 4
// weight bytes of a 32-block is multiplied against 4 activation bytes broadcast to all 8 rows, so
// one vector accumulates complete dot products for 8 rows (no horizontal sums, one scale multiply
// per 8 rows). Panel layout, per 32-element sub-block s of the row:
//   w[g][r][4]  : weights 4g..4g+3 of row r (u8; signed formats: q ^ 0x80 with VNNI, q without)
//   sc[h][r]    : scale of half h (h = 0 only for per-32 formats), mn[h][r]: offset (incl. -128*sc fold)
// ------------------------------------------------------------------------------------------------
#if HEARTH_MM_VNNI
constexpr int kPanelRows = 16;  // one zmm of int32 lanes
#else
constexpr int kPanelRows = 8;   // one ymm of int32 lanes
#endif
struct alignas(64) PanelSub {
    uint8_t w[8][kPanelRows * 4];  // [group g][row r][4 bytes]
    float sc[2][kPanelRows];
    float mn[2][kPanelRows];
};

inline void transpose8x8(__m256i r[8]) {
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

inline void transpose8x8_ps(const __m256 in[8], __m256 out[8]) {
    __m256i r[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_castps_si256(in[i]);
    transpose8x8(r);
    #pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) out[i] = _mm256_castsi256_ps(r[i]);
}

// Decode rows [i0, i0+nrows) (nrows <= 8; missing rows are zero) into the 8-row slice `part` of
// the nb sub-blocks of panel p.
template <class F>
void build_panel8(const uint8_t* w, size_t wrb, int64_t i0, int nrows, int64_t k, PanelSub* p, int part) {
    const int wo = 32 * part, ro = 8 * part;  // byte offset in a weight group, lane offset in sc/mn
    const int64_t nb = k / 32;
    constexpr bool kXor = F::kSigned && HEARTH_MM_VNNI;
    Group g[8];
    for (int64_t j0 = 0; j0 < nb; j0 += 8) {
        const int nsub = static_cast<int>(imin(8, nb - j0));
        #pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
            if (r < nrows) {
                F::decode(w + (i0 + r) * wrb + (j0 / 8) * F::kGroupBytes, nsub, g[r]);
            } else {
                #pragma GCC unroll 8
                for (int s = 0; s < 8; ++s) g[r].u[s] = _mm256_setzero_si256();
                g[r].sc[0] = g[r].sc[1] = g[r].mn[0] = g[r].mn[1] = _mm256_setzero_ps();
            }
            if constexpr (kXor) {  // u = q + 128, value = sc*u + (mn - 128*sc)
                g[r].mn[0] = _mm256_fnmadd_ps(g[r].sc[0], _mm256_set1_ps(128.0f), g[r].mn[0]);
            }
        }
        #pragma GCC unroll 8
        for (int s = 0; s < nsub; ++s) {
            __m256i v[8];
            #pragma GCC unroll 8
            for (int r = 0; r < 8; ++r) v[r] = kXor ? _mm256_xor_si256(g[r].u[s], _mm256_set1_epi8(-128)) : g[r].u[s];
            transpose8x8(v);
            #pragma GCC unroll 8
            for (int gq = 0; gq < 8; ++gq) _mm256_store_si256(reinterpret_cast<__m256i*>(p[j0 + s].w[gq] + wo), v[gq]);
        }
        __m256 in[8], out[8];
        const int nhalf = F::kSub16 ? 2 : 1;
        #pragma GCC unroll 8
        for (int h = 0; h < nhalf; ++h) {
            #pragma GCC unroll 8
            for (int r = 0; r < 8; ++r) in[r] = g[r].sc[h];
            transpose8x8_ps(in, out);
            #pragma GCC unroll 8
            for (int l = 0; l < 8; ++l) {
                if (F::kSub16) _mm256_store_ps(p[j0 + 4 * h + l / 2].sc[l % 2] + ro, out[l]);
                else if (l < nsub) _mm256_store_ps(p[j0 + l].sc[0] + ro, out[l]);
            }
            #pragma GCC unroll 8
            for (int r = 0; r < 8; ++r) in[r] = g[r].mn[h];
            transpose8x8_ps(in, out);
            #pragma GCC unroll 8
            for (int l = 0; l < 8; ++l) {
                if (F::kSub16) _mm256_store_ps(p[j0 + 4 * h + l / 2].mn[l % 2] + ro, out[l]);
                else if (l < nsub) _mm256_store_ps(p[j0 + l].mn[0] + ro, out[l]);
            }
        }
    }
}

template <class F>
void build_panel(const uint8_t* w, size_t wrb, int64_t i0, int nrows, int64_t k, PanelSub* p) {
    for (int part = 0; part < kPanelRows / 8; ++part) {
        const int rows = static_cast<int>(imin(8, nrows - 8 * part));
        build_panel8<F>(w, wrb, i0 + 8 * part, rows < 0 ? 0 : rows, k, p, part);
    }
}

#if !HEARTH_MM_VNNI
// NP panels (8 rows each) x NC activation columns over sub-blocks [s0, s1); results added to
// (or stored into, when !accumulate) out[c][row], rows limited by nvalid[p].
template <bool kSub16, bool kSignedNoVnni, int NP, int NC>
void panel_tile(const PanelSub* const* panels, const ActRow* act, int64_t s0, int64_t s1, float* const* out,
                const int* nvalid, bool accumulate) {
    __m256 f[NP][NC];
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p)
        #pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) f[p][c] = _mm256_setzero_ps();
    constexpr int kHalves = kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    for (int64_t s = s0; s < s1; ++s) {
        #pragma GCC unroll 8
        for (int h = 0; h < kHalves; ++h) {
            __m256i ia[NP][NC];
            #pragma GCC unroll 8
            for (int p = 0; p < NP; ++p)
                #pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) ia[p][c] = _mm256_setzero_si256();
            #pragma GCC unroll 8
            for (int gq = h * kGroups; gq < (h + 1) * kGroups; ++gq) {
                __m256i wv[NP], wa[NP];
                #pragma GCC unroll 8
                for (int p = 0; p < NP; ++p) {
                    wv[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(panels[p][s].w[gq]));
                    if constexpr (kSignedNoVnni) wa[p] = _mm256_abs_epi8(wv[p]);
                }
                #pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) {
                    int32_t a4;
                    std::memcpy(&a4, act[c].q + 32 * s + 4 * gq, 4);
                    const __m256i ab = _mm256_set1_epi32(a4);
                    #pragma GCC unroll 8
                    for (int p = 0; p < NP; ++p) {
                        if constexpr (kSignedNoVnni) ia[p][c] = dot_u8(ia[p][c], wa[p], _mm256_sign_epi8(ab, wv[p]));
                        else ia[p][c] = dot_u8(ia[p][c], wv[p], ab);
                    }
                }
            }
            #pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const __m256 da = _mm256_set1_ps(act[c].d[s]);
                const __m256 ds = _mm256_set1_ps(kSub16 ? act[c].ds16[2 * s + h] : act[c].ds32[s]);
                #pragma GCC unroll 8
                for (int p = 0; p < NP; ++p) {
                    const __m256 sc = _mm256_mul_ps(_mm256_load_ps(panels[p][s].sc[h]), da);
                    f[p][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[p][c]), sc, f[p][c]);
                    f[p][c] = _mm256_fmadd_ps(_mm256_load_ps(panels[p][s].mn[h]), ds, f[p][c]);
                }
            }
        }
    }
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
        #pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            float* o = out[c] + 8 * p;
            if (nvalid[p] == 8) {
                const __m256 v = accumulate ? _mm256_add_ps(_mm256_loadu_ps(o), f[p][c]) : f[p][c];
                _mm256_storeu_ps(o, v);
            } else {
                alignas(32) float t[8];
                _mm256_store_ps(t, f[p][c]);
                for (int r = 0; r < nvalid[p]; ++r) o[r] = accumulate ? o[r] + t[r] : t[r];
            }
        }
    }
}

template <bool kSub16, bool kSignedNoVnni, int NP>
void panel_tile_cols(int nc, const PanelSub* const* panels, const ActRow* act, int64_t s0, int64_t s1,
                     float* const* out, const int* nvalid, bool accumulate) {
    switch (nc) {
        case 4: panel_tile<kSub16, kSignedNoVnni, NP, 4>(panels, act, s0, s1, out, nvalid, accumulate); break;
        case 3: panel_tile<kSub16, kSignedNoVnni, NP, 3>(panels, act, s0, s1, out, nvalid, accumulate); break;
        case 2: panel_tile<kSub16, kSignedNoVnni, NP, 2>(panels, act, s0, s1, out, nvalid, accumulate); break;
        default: panel_tile<kSub16, kSignedNoVnni, NP, 1>(panels, act, s0, s1, out, nvalid, accumulate); break;
    }
}

#else   // HEARTH_MM_VNNI: 16-row panels in zmm registers

// One 16-row panel x NC activation columns over sub-blocks [s0, s1); results added to (or stored
// into, when !accumulate) out[c][0..nvalid).
template <bool kSub16, int NC>
void panel_tile512(const PanelSub* panel, const ActRow* act, int64_t s0, int64_t s1, float* const* out, int nvalid,
                   bool accumulate) {
    __m512 f[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) f[c] = _mm512_setzero_ps();
    constexpr int kHalves = kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    for (int64_t s = s0; s < s1; ++s) {
        const PanelSub& ps = panel[s];
#pragma GCC unroll 2
        for (int h = 0; h < kHalves; ++h) {
            __m512i ia[NC];
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) ia[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int gq = h * kGroups; gq < (h + 1) * kGroups; ++gq) {
                const __m512i wv = _mm512_load_si512(ps.w[gq]);
#pragma GCC unroll 8
                for (int c = 0; c < NC; ++c) {
                    int32_t a4;
                    std::memcpy(&a4, act[c].q + 32 * s + 4 * gq, 4);
                    ia[c] = _mm512_dpbusd_epi32(ia[c], wv, _mm512_set1_epi32(a4));
                }
            }
            const __m512 sc = _mm512_load_ps(ps.sc[h]), mn = _mm512_load_ps(ps.mn[h]);
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                const __m512 da = _mm512_set1_ps(act[c].d[s]);
                const __m512 ds = _mm512_set1_ps(kSub16 ? act[c].ds16[2 * s + h] : act[c].ds32[s]);
                f[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[c]), _mm512_mul_ps(sc, da), f[c]);
                f[c] = _mm512_fmadd_ps(mn, ds, f[c]);
            }
        }
    }
    const __mmask16 m = static_cast<__mmask16>((1u << nvalid) - 1u);
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
        const __m512 v = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, out[c]), f[c]) : f[c];
        _mm512_mask_storeu_ps(out[c], m, v);
    }
}

template <bool kSub16>
void panel_tile512_cols(int nc, const PanelSub* panel, const ActRow* act, int64_t s0, int64_t s1, float* const* out,
                        int nvalid, bool accumulate) {
    switch (nc) {
        case 8: panel_tile512<kSub16, 8>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 7: panel_tile512<kSub16, 7>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 6: panel_tile512<kSub16, 6>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 5: panel_tile512<kSub16, 5>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 4: panel_tile512<kSub16, 4>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 3: panel_tile512<kSub16, 3>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 2: panel_tile512<kSub16, 2>(panel, act, s0, s1, out, nvalid, accumulate); break;
        default: panel_tile512<kSub16, 1>(panel, act, s0, s1, out, nvalid, accumulate); break;
    }
}
#endif  // HEARTH_MM_VNNI

#if HEARTH_MM_VNNI
constexpr int kCols = 8;                    // activation columns per tile
#else
constexpr int kCols = 4;
#endif
constexpr int64_t kChunkSubs = 16;          // sub-blocks (x32 elements) per k-chunk kept hot in L1
constexpr int64_t kMinPanelCols = 4;        // fewer activation columns (1..3) use the row kernel

// Many activation columns: per panel of kPanelRows weight rows, decode once, then sweep all
// columns in tiles of kCols, k-chunk by k-chunk so the panel slice stays in L1.
template <class F>
void matmul_panels(const uint8_t* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                   float* out, int64_t out_stride) {
    const int64_t nb = k / 32;
    PanelSub* panel = static_cast<PanelSub*>(thread_scratch(sizeof(PanelSub) * static_cast<size_t>(nb)));
    for (int64_t i0 = r0; i0 < r1; i0 += kPanelRows) {
        const int nvalid = static_cast<int>(imin(kPanelRows, r1 - i0));
        build_panel<F>(w, wrb, i0, nvalid, k, panel);
        for (int64_t s0 = 0; s0 < nb; s0 += kChunkSubs) {
            const int64_t s1 = imin(nb, s0 + kChunkSubs);
            for (int64_t c0 = 0; c0 < n; c0 += kCols) {
                const int nc = static_cast<int>(imin(kCols, n - c0));
                ActRow act[kCols];
                float* o[kCols];
                for (int c = 0; c < nc; ++c) {
                    act[c] = act_row(a_q, k, c0 + c);
                    o[c] = out + (c0 + c) * out_stride + i0;
                }
#if HEARTH_MM_VNNI
                panel_tile512_cols<F::kSub16>(nc, panel, act, s0, s1, o, nvalid, s0 > 0);
#else
                const PanelSub* panels[1] = {panel};
                const int nv[1] = {nvalid};
                panel_tile_cols<F::kSub16, F::kSigned, 1>(nc, panels, act, s0, s1, o, nv, s0 > 0);
#endif
            }
        }
    }
}

template <class F>
void matmul_fmt(const void* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                float* out, int64_t out_stride) {
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    if (n >= kMinPanelCols) matmul_panels<F>(wb, wrb, a_q, k, n, r0, r1, out, out_stride);
    else matmul_rows<F>(wb, wrb, a_q, k, n, r0, r1, out, out_stride);
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
