// x86 row-streaming matmul kernel for few activation columns (decode, n = 1..3): each weight row
// is streamed once, decoded once and dotted with every column. Included ONLY by the ISA files
// (matmul_avx2.cpp / matmul_avx512.cpp; anonymous namespace).
#pragma once

#include <type_traits>

#include "backend/cpu/matmul_x86_common.h"

namespace hearth::cpu {
namespace {

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
// Formats with a native 512-bit pair decoder (F::decode_pairs, F::kPairs).
template <class F, class = void>
struct HasPairs {
    static constexpr bool value = false;
};
template <class F>
struct HasPairs<F, std::void_t<decltype(F::kPairs)>> {
    static constexpr bool value = F::kPairs;
};

// group_dot for a full group with 512-bit vectors: each zmm holds two sub-blocks, halving the
// instruction count of the dot / convert / scale / accumulate chain.
template <class F, int C>
inline void group_dot512(const uint8_t* wp, const ActRow* act, int64_t j0, __m512 (*acc)[2], __m256* macc) {
    Group g;
    F::decode(wp, 8, g);
    __m512i u2[4];  // sub-blocks 2t (low half) and 2t+1 (high half)
    if constexpr (HasPairs<F>::value) {
        F::decode_pairs(wp, u2);  // the g.u decoded above are then dead and dropped by the compiler
    } else {
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
            u2[t] = _mm512_inserti64x4(_mm512_zextsi256_si512(g.u[2 * t]), g.u[2 * t + 1], 1);
            if constexpr (F::kSigned) u2[t] = _mm512_xor_si512(u2[t], _mm512_set1_epi8(-128));  // u = q + 128
        }
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
            sv = _mm512_zextps256_ps512(_mm256_mul_ps(g.sc[0], da));
            macc[c] = _mm256_fmadd_ps(g.mn[0], _mm256_loadu_ps(a.ds32 + j0), macc[c]);
        } else {
            // lane 2s+h: scale of half h of sub-block s
            const __m256 da_lo = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
            const __m256 da_hi = _mm256_permutevar8x32_ps(da, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
            sv = _mm512_insertf32x8(_mm512_zextps256_ps512(_mm256_mul_ps(g.sc[0], da_lo)), _mm256_mul_ps(g.sc[1], da_hi), 1);
            macc[c] = _mm256_fmadd_ps(g.mn[0], _mm256_loadu_ps(a.ds16 + 2 * j0), macc[c]);
            macc[c] = _mm256_fmadd_ps(g.mn[1], _mm256_loadu_ps(a.ds16 + 2 * j0 + 8), macc[c]);
        }
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
            const __m512i av = _mm512_loadu_si512(aq + 64 * t);
            const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u2[t], av);
            __m512i idx;
            if constexpr (!F::kSub16) {
                idx = _mm512_inserti64x4(_mm512_zextsi256_si512(_mm256_set1_epi32(2 * t)), _mm256_set1_epi32(2 * t + 1), 1);
            } else {
                idx = _mm512_setr_epi32(4 * t, 4 * t, 4 * t, 4 * t, 4 * t + 1, 4 * t + 1, 4 * t + 1, 4 * t + 1,  //
                                        4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 3, 4 * t + 3, 4 * t + 3, 4 * t + 3);
            }
            acc[c][t & 1] = _mm512_fmadd_ps(cvt512(p), _mm512_permutexvar_ps(idx, sv), acc[c][t & 1]);
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
        __m512i z = _mm512_zextsi128_si512(ld128(b + S::kQs));
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
        const __m512 sv = _mm512_zextps256_ps512(_mm256_mul_ps(sc, _mm256_loadu_ps(a.d + j0)));
        macc[c] = _mm256_fmadd_ps(mn, _mm256_loadu_ps(a.ds32 + j0), macc[c]);
        const int8_t* aq = split[c] + j0 * 32;
#pragma GCC unroll 2
        for (int t = 0; t < 2; ++t) {
            __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[t], _mm512_loadu_si512(aq + 128 * t));
            p = _mm512_dpbusd_epi32(p, hi[t], _mm512_loadu_si512(aq + 128 * t + 64));
            const __m512i idx = _mm512_setr_epi32(4 * t, 4 * t, 4 * t, 4 * t, 4 * t + 1, 4 * t + 1, 4 * t + 1, 4 * t + 1,
                                                  4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 2, 4 * t + 3, 4 * t + 3, 4 * t + 3,
                                                  4 * t + 3);
            acc[c][t] = _mm512_fmadd_ps(cvt512(p), _mm512_permutexvar_ps(idx, sv), acc[c][t]);
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

// Few activation columns (decode, small batches): each weight row is streamed once and decoded
// once per chunk of up to 4 columns (the row stays in L1 between chunks).
constexpr int64_t kMaxRowCols = 7;

template <class F>
void matmul_rows(const uint8_t* w, size_t wrb, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                 float* out, int64_t out_stride) {
    HEARTH_ASSERT(n >= 1 && n <= kMaxRowCols);
    ActRow act[kMaxRowCols];
    const int8_t* split[kMaxRowCols] = {};
    for (int64_t c = 0; c < n; ++c) act[c] = act_row(a_q, k, c);
#if HEARTH_MM_VNNI
    if constexpr (Split<F>::kOn) {  // re-lay the activation rows once per call (full groups only)
        const int64_t nq = k / 256 * 2;
        int8_t* buf = static_cast<int8_t*>(thread_scratch(static_cast<size_t>(kMaxRowCols * k)));
        for (int64_t c = 0; c < n; ++c) {
            split_activation(act[c].q, nq, buf + c * k);
            split[c] = buf + c * k;
        }
    }
#endif
    for (int64_t i = r0; i < r1; ++i) {
        const uint8_t* row = w + i * wrb;
        for (int64_t c0 = 0; c0 < n; c0 += 4) {
            const int64_t nc = imin(4, n - c0);
            float* o = out + c0 * out_stride + i;
            if (nc == 1) dot_row_cols<F, 1>(row, act + c0, split + c0, k, o, out_stride);
            else if (nc == 2) dot_row_cols<F, 2>(row, act + c0, split + c0, k, o, out_stride);
            else if (nc == 3) dot_row_cols<F, 3>(row, act + c0, split + c0, k, o, out_stride);
            else dot_row_cols<F, 4>(row, act + c0, split + c0, k, o, out_stride);
        }
    }
}

}  // namespace
}  // namespace hearth::cpu
