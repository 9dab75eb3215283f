// x86 row-interleaved "panel" matmul kernel for many activation columns (prompt processing).
// Included ONLY by the ISA files (matmul_avx2.cpp / matmul_avx512.cpp; anonymous namespace).
#pragma once

#include "backend/cpu/matmul_x86_common.h"

namespace hearth::cpu {
namespace {

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
template <bool kSub16, bool kSignedNoVnni, int kRun, int NP, int NC>
void panel_tile(const PanelSub* const* panels, const ActRow* act, int64_t s0, int64_t s1, float* const* out,
                const int* nvalid, bool accumulate) {
    // A continued k-chunk (accumulate) reloads the partial sums it stored: the fma chain of every
    // output is then the same whatever the chunking or the number of columns (batch invariance).
    __m256 f[NP][NC];
    #pragma GCC unroll 8
    for (int p = 0; p < NP; ++p)
        #pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            if (!accumulate) {
                f[p][c] = _mm256_setzero_ps();
            } else if (nvalid[p] == 8) {
                f[p][c] = _mm256_loadu_ps(out[c] + 8 * p);
            } else {
                alignas(32) float t[8] = {};
                for (int r = 0; r < nvalid[p]; ++r) t[r] = out[c][8 * p + r];
                f[p][c] = _mm256_load_ps(t);
            }
        }
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
            // Without VNNI, maddubs gives int16 pair sums; kRun consecutive groups are summed in int16
            // (no overflow for the format's largest weight) before one madd widens them to int32.
            __m256i s16[NP][NC];
            #pragma GCC unroll 8
            for (int gq = h * kGroups; gq < (h + 1) * kGroups; ++gq) {
                const bool first = (gq - h * kGroups) % kRun == 0;
                const bool last = (gq - h * kGroups) % kRun == kRun - 1 || gq == (h + 1) * kGroups - 1;
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
                        const __m256i prod = kSignedNoVnni ? _mm256_maddubs_epi16(wa[p], _mm256_sign_epi8(ab, wv[p]))
                                                           : _mm256_maddubs_epi16(wv[p], ab);
                        s16[p][c] = first ? prod : _mm256_add_epi16(s16[p][c], prod);
                        if (last) ia[p][c] = _mm256_add_epi32(ia[p][c], _mm256_madd_epi16(s16[p][c], _mm256_set1_epi16(1)));
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
                _mm256_storeu_ps(o, f[p][c]);
            } else {
                alignas(32) float t[8];
                _mm256_store_ps(t, f[p][c]);
                for (int r = 0; r < nvalid[p]; ++r) o[r] = t[r];
            }
        }
    }
}

template <bool kSub16, bool kSignedNoVnni, int kRun, int NP>
void panel_tile_cols(int nc, const PanelSub* const* panels, const ActRow* act, int64_t s0, int64_t s1,
                     float* const* out, const int* nvalid, bool accumulate) {
    switch (nc) {
        case 4: panel_tile<kSub16, kSignedNoVnni, kRun, NP, 4>(panels, act, s0, s1, out, nvalid, accumulate); break;
        case 3: panel_tile<kSub16, kSignedNoVnni, kRun, NP, 3>(panels, act, s0, s1, out, nvalid, accumulate); break;
        case 2: panel_tile<kSub16, kSignedNoVnni, kRun, NP, 2>(panels, act, s0, s1, out, nvalid, accumulate); break;
        default: panel_tile<kSub16, kSignedNoVnni, kRun, NP, 1>(panels, act, s0, s1, out, nvalid, accumulate); break;
    }
}

#else   // HEARTH_MM_VNNI: 16-row panels in zmm registers

// One 16-row panel x NC activation columns over sub-blocks [s0, s1); results added to (or stored
// into, when !accumulate) out[c][0..nvalid).
template <bool kSub16, int kShift, int NC>
void panel_tile512(const PanelSub* panel, const ActRow* act, int64_t s0, int64_t s1, float* const* out, int nvalid,
                   bool accumulate) {
    // A continued k-chunk (accumulate) reloads the partial sums it stored, so every output's fma
    // chain is the same whatever the chunking or the number of columns (batch invariance).
    const __mmask16 m = static_cast<__mmask16>((1u << nvalid) - 1u);
    __m512 f[NC];
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) f[c] = accumulate ? _mm512_maskz_loadu_ps(m, out[c]) : _mm512_setzero_ps();
    constexpr int kHalves = kSub16 ? 2 : 1;
    constexpr int kGroups = 8 / kHalves;
    for (int64_t s = s0; s < s1; ++s) {
        const PanelSub& ps = panel[s];
#pragma GCC unroll 2
        for (int h = 0; h < kHalves; ++h) {
            __m512i ia[NC];
#pragma GCC unroll 8
            for (int c = 0; c < NC; ++c) {
                // Formats with an integer offset 2^kShift (u8 weights u, value = sc*(u - 2^kShift))
                // start the dot from -2^kShift * sum(a): exact, and the mn fma below is dropped.
                if constexpr (kShift >= 0) {
                    const int32_t ns = kSub16 ? act[c].ns16[2 * s + h] : act[c].ns32[s];
                    ia[c] = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(ns) << kShift));
                } else {
                    ia[c] = _mm512_setzero_si512();
                }
            }
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
                f[c] = _mm512_fmadd_ps(cvt512(ia[c]), _mm512_mul_ps(sc, da), f[c]);
                if constexpr (kShift < 0) f[c] = _mm512_fmadd_ps(mn, ds, f[c]);
            }
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(out[c], m, f[c]);
}

template <bool kSub16, int kShift>
void panel_tile512_cols(int nc, const PanelSub* panel, const ActRow* act, int64_t s0, int64_t s1, float* const* out,
                        int nvalid, bool accumulate) {
    switch (nc) {
        case 8: panel_tile512<kSub16, kShift, 8>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 7: panel_tile512<kSub16, kShift, 7>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 6: panel_tile512<kSub16, kShift, 6>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 5: panel_tile512<kSub16, kShift, 5>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 4: panel_tile512<kSub16, kShift, 4>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 3: panel_tile512<kSub16, kShift, 3>(panel, act, s0, s1, out, nvalid, accumulate); break;
        case 2: panel_tile512<kSub16, kShift, 2>(panel, act, s0, s1, out, nvalid, accumulate); break;
        default: panel_tile512<kSub16, kShift, 1>(panel, act, s0, s1, out, nvalid, accumulate); break;
    }
}
#endif  // HEARTH_MM_VNNI

#if HEARTH_MM_VNNI
constexpr int kCols = 8;                    // activation columns per tile
#else
constexpr int kCols = 4;
#endif
constexpr int64_t kChunkSubs = 16;          // sub-blocks (x32 elements) per k-chunk kept hot in L1

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
                panel_tile512_cols<F::kSub16, F::kOffsetShift>(nc, panel, act, s0, s1, o, nvalid, s0 > 0);
#else
                const PanelSub* panels[1] = {panel};
                const int nv[1] = {nvalid};
                constexpr int kRun = F::kSigned ? 1 : (32767 / (254 * F::kUMax) < 8 ? 32767 / (254 * F::kUMax) : 8);
                panel_tile_cols<F::kSub16, F::kSigned, kRun, 1>(nc, panels, act, s0, s1, o, nv, s0 > 0);
#endif
            }
        }
    }
}

}  // namespace
}  // namespace hearth::cpu
