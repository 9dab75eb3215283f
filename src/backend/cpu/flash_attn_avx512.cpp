// AVX-512 flash attention for float K caches (F32 / F16 / BF16; V any type): register-blocked score
// tiles (rows x keys, one fixed 16-lane fold tree), a zmm online softmax over 64-key tiles and a
// register-blocked P.V accumulation. See flash_attn_avx512.h for the batch-invariance argument.
// GCC 12's AVX-512 headers build "undefined" vectors from a self-initialised local, which
// -W(maybe-)uninitialized reports wherever those intrinsics are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "backend/cpu/cpu_kv_rows.h"
#include "backend/cpu/flash_attn_avx512.h"
#include "quant/quant.h"

namespace hearth::cpu::avx512 {
namespace {

constexpr int64_t kTile = kFaTile;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

enum class Elt { F32, F16, BF16 };

// 16 elements of a row starting at element e, as floats (F16 via vcvtph2ps, BF16 by shifting:
// both exact).
template <Elt E>
inline __m512 load16(const char* row, int64_t e) {
    if constexpr (E == Elt::F32) {
        return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + e);
    } else {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + e));
        if constexpr (E == Elt::F16) return _mm512_cvtph_ps(h);
        else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

// Same for the lanes in m; other lanes are +0 and nothing outside m is read.
template <Elt E>
inline __m512 load16_masked(const char* row, int64_t e, __mmask16 m) {
    if constexpr (E == Elt::F32) {
        return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + e);
    } else {
        const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + e);
        if constexpr (E == Elt::F16) return _mm512_cvtph_ps(h);
        else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

inline __mmask16 tail_mask(int64_t n) {  // lanes [0, n) for 0 <= n; all 16 from n >= 16
    return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// Prefetch `bytes` of a cache row into L2 (the next tile's rows while this tile computes: a KV
// head's rows are strided in the cache, 64 rows apart per tile, which the hardware prefetchers
// follow poorly; T1 measured ~8% faster than T0 from DRAM). Prefetches never fault, so a row past
// the cache end is harmless.
inline void prefetch_row(const char* row, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(row + o, _MM_HINT_T1);
}

// Sixteen accumulators folded into one zmm: lane i = the lane sum of a[i]. Every accumulator goes
// through the same tree whatever its slot: ((l + l8) + (l4 + l12)) + ((l2 + l10) + (l6 + l14)),
// and likewise for the odd lanes, then the two halves added. The inputs are fed in the order
// slot(L + 4s) = a[4L + s], which makes the four stages' output land in natural order.
inline __m512 fold16(const __m512* a) {
    auto at = [&](int i) { return a[4 * (i % 4) + i / 4]; };
    __m512 c[8];
    #pragma GCC unroll 16
    for (int k = 0; k < 8; ++k) {  // lane l < 8: x[l] + x[l+8] of input 2k; lanes 8..15: input 2k+1
        const __m512 x = at(2 * k), y = at(2 * k + 1);
        c[k] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
    }
    __m512 g[4];
    #pragma GCC unroll 16
    for (int k = 0; k < 4; ++k)  // 128-bit lane per input: P[i] + P[i+4]
        g[k] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * k], c[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(c[2 * k], c[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 m[2];
    #pragma GCC unroll 16
    for (int k = 0; k < 2; ++k) {  // 64-bit pairs: Q[i] + Q[i+2]
        const __m512d x = _mm512_castps_pd(g[2 * k]), y = _mm512_castps_pd(g[2 * k + 1]);
        m[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(m[0], m[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(m[0], m[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// e^x for 16 floats: x = k ln2 + r (|r| <= ln2/2), e^r by its degree-6 Taylor polynomial, scaled by
// 2^k (vscalefps). Inputs below -87 (-inf included) give exactly 0.
inline __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.0f);
    const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), lo);
    const __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split hi / lo
    r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(keep, p, kf);
}

// ---------------------------------------------------------------- scores

// s[r * kTile + kk] = q[r] . key kk for r < RB, kk < 16 / RB (key kk's row at k[kk]); D elements.
// Per pair: one accumulator, lane = d % 16, d ascending (masked tail), then fold16.
template <Elt E, int RB>
__attribute__((always_inline)) inline void score_block(const float* const* q, const char* const* k, int64_t D, float* s) {
    constexpr int KB = 16 / RB;
    __m512 acc[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
    int64_t e = 0;
    for (; e + 16 <= D; e += 16) {
        __m512 qv[RB];
        #pragma GCC unroll 16
        for (int r = 0; r < RB; ++r) qv[r] = _mm512_loadu_ps(q[r] + e);
        #pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) {
            const __m512 kv = load16<E>(k[kk], e);
            #pragma GCC unroll 16
            for (int r = 0; r < RB; ++r) acc[r * KB + kk] = _mm512_fmadd_ps(qv[r], kv, acc[r * KB + kk]);
        }
    }
    if (e < D) {
        const __mmask16 m = tail_mask(D - e);
        __m512 qv[RB];
        #pragma GCC unroll 16
        for (int r = 0; r < RB; ++r) qv[r] = _mm512_maskz_loadu_ps(m, q[r] + e);
        #pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) {
            const __m512 kv = load16_masked<E>(k[kk], e, m);
            #pragma GCC unroll 16
            for (int r = 0; r < RB; ++r) acc[r * KB + kk] = _mm512_fmadd_ps(qv[r], kv, acc[r * KB + kk]);
        }
    }
    const __m512 sum = fold16(acc);  // lane r * KB + kk
    if constexpr (RB == 1) {
        _mm512_storeu_ps(s, sum);
    } else if constexpr (RB == 2) {
        _mm256_storeu_ps(s, _mm512_castps512_ps256(sum));
        _mm256_storeu_ps(s + kTile, _mm512_extractf32x8_ps(sum, 1));
    } else {
        _mm_storeu_ps(s, _mm512_castps512_ps128(sum));
        _mm_storeu_ps(s + kTile, _mm512_extractf32x4_ps(sum, 1));
        _mm_storeu_ps(s + 2 * kTile, _mm512_extractf32x4_ps(sum, 2));
        _mm_storeu_ps(s + 3 * kTile, _mm512_extractf32x4_ps(sum, 3));
    }
}

// Scores of RB rows (q, padded by repeating) over the keys [jlo, jhi] of a tile of tn keys (rows of
// the tile at kb + j * ks; blocks past tn repeat key tn - 1, their slots are masked later).
template <Elt E, int RB>
void score_rows(const float* const* q, const char* kb, size_t ks, int64_t tn, int64_t jlo, int64_t jhi, int64_t D,
                float* s, size_t pf) {
    constexpr int KB = 16 / RB;
    for (int64_t j = jlo / KB * KB; j <= jhi; j += KB) {
        const char* kp[KB];
        #pragma GCC unroll 16
        for (int kk = 0; kk < KB; ++kk) kp[kk] = kb + static_cast<size_t>(std::min(j + kk, tn - 1)) * ks;
        if (pf)
            for (int kk = 0; kk < KB; ++kk) prefetch_row(kb + static_cast<size_t>(j + kk + kTile) * ks, pf);
        score_block<E, RB>(q, kp, D, s + j);
    }
}

// ---------------------------------------------------------------- P.V

// acc[r][d] = acc[r][d] * corr[r], then += p[r][j] * V[j][d] for j = jlo..jhi in key order,
// skipping p == 0 (bit j of nz[r] clear: a lane-masked FMA, so the accumulator keeps its bits
// whatever V holds). Dense: every nz[r] covers [jlo, jhi], plain FMAs (the same operations). RB rows
// x 16/RB chunks of 16 floats per pass over d.
template <Elt E, int RB, bool Dense>
void acc_rows(const float* const* p, const uint64_t* nz, const float* corr, float* const* acc, const char* vb,
              size_t vs, int64_t jlo, int64_t jhi, int64_t Dv, size_t pf) {
    constexpr int CH = 16 / RB;
    for (int64_t d0 = 0; d0 < Dv; d0 += 16 * CH) {
        const int nch = static_cast<int>(std::min<int64_t>(CH, (Dv - d0 + 15) / 16));
        __mmask16 mk[CH];
        #pragma GCC unroll 16
        for (int c = 0; c < CH; ++c) mk[c] = c < nch ? tail_mask(Dv - d0 - 16 * c) : static_cast<__mmask16>(0);
        const bool full = nch == CH && mk[CH - 1] == 0xFFFF;
        __m512 a[RB][CH];
        #pragma GCC unroll 16
        for (int r = 0; r < RB; ++r) {
            const __m512 cr = _mm512_set1_ps(corr[r]);
            #pragma GCC unroll 16
            for (int c = 0; c < CH; ++c) a[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk[c], acc[r] + d0 + 16 * c), cr);
        }
        for (int64_t j = jlo; j <= jhi; ++j) {
            const char* vr = vb + static_cast<size_t>(j) * vs;
            if (pf && d0 == 0) prefetch_row(vr + static_cast<size_t>(kTile) * vs, pf);
            __m512 vv[CH];
            if (full) {
                #pragma GCC unroll 16
                for (int c = 0; c < CH; ++c) vv[c] = load16<E>(vr, d0 + 16 * c);
            } else {
                #pragma GCC unroll 16
                for (int c = 0; c < CH; ++c) vv[c] = load16_masked<E>(vr, d0 + 16 * c, mk[c]);
            }
            #pragma GCC unroll 16
            for (int r = 0; r < RB; ++r) {
                const __m512 pb = _mm512_set1_ps(p[r][j]);
                if constexpr (Dense) {
                    #pragma GCC unroll 16
                    for (int c = 0; c < CH; ++c) a[r][c] = _mm512_fmadd_ps(pb, vv[c], a[r][c]);
                } else {
                    const __mmask16 k = static_cast<__mmask16>(-static_cast<int>((nz[r] >> j) & 1u));
                    #pragma GCC unroll 16
                    for (int c = 0; c < CH; ++c) a[r][c] = _mm512_mask3_fmadd_ps(pb, vv[c], a[r][c], k);
                }
            }
        }
        #pragma GCC unroll 16
        for (int r = 0; r < RB; ++r)
            #pragma GCC unroll 16
            for (int c = 0; c < CH; ++c) _mm512_mask_storeu_ps(acc[r] + d0 + 16 * c, mk[c], a[r][c]);
    }
}

// ---------------------------------------------------------------- softmax

// Online-softmax step of one row on one tile. s: its kTile raw scores (slots outside vis may hold
// anything); vis: its visible keys (bit j; none >= tn); mrow: its mask row at the tile (or null).
// On return s holds the probabilities (exactly 0 outside vis), nz which of them are nonzero, corr
// the factor the accumulators are rescaled by; l = l * corr + the tile's sum. The sum is exact
// integer arithmetic on each probability in 2^-56 fixed point (associative, so it does not depend
// on where other sequences' zero cells sit between the row's keys, as a float tree's pairing
// would; the rounding is < 2^-50 against max(l * corr, largest p) >= 1). Returns false,
// touching nothing but s, when the row sees no key here.
bool row_softmax(float* s, uint64_t vis, const float* mrow, int64_t tn, float scale, float softcap, float& m,
                 float& l, float& corr, uint64_t& nz) {
    if (vis == 0) return false;
    if (softcap > 0.0f) {
        for (int64_t j = 0; j < tn; ++j)
            if ((vis >> j) & 1u) s[j] = softcap * std::tanh(s[j] * scale / softcap);
    }
    const __m512 neg_inf = _mm512_set1_ps(kNegInf);
    const __m512 vscale = _mm512_set1_ps(softcap > 0.0f ? 1.0f : scale);
    __m512 x[4];
    __m512 vmax = neg_inf;
    #pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) {
        const __mmask16 k = static_cast<__mmask16>(vis >> (16 * c));
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(s + 16 * c), vscale);
        if (mrow) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, mrow + 16 * c));
        x[c] = _mm512_mask_mov_ps(neg_inf, k, v);
        vmax = _mm512_max_ps(vmax, x[c]);
    }
    const float tile_max = _mm512_reduce_max_ps(vmax);
    if (!(tile_max > kNegInf)) return false;
    const float m_new = std::max(m, tile_max);
    corr = m == kNegInf ? 0.0f : _mm512_cvtss_f32(exp16(_mm512_set1_ps(m - m_new)));
    const __m512 vm = _mm512_set1_ps(m_new);
    const __m512 zero = _mm512_setzero_ps();
    const __m512 fix = _mm512_set1_ps(72057594037927936.0f);  // 2^56: p <= 1 -> fits an int64
    __m512i isum = _mm512_setzero_si512();
    nz = 0;
    #pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) {
        x[c] = exp16(_mm512_sub_ps(x[c], vm));
        _mm512_storeu_ps(s + 16 * c, x[c]);
        nz |= static_cast<uint64_t>(_mm512_cmp_ps_mask(x[c], zero, _CMP_NEQ_UQ)) << (16 * c);
        const __m512 y = _mm512_mul_ps(x[c], fix);
        isum = _mm512_add_epi64(isum, _mm512_add_epi64(_mm512_cvtps_epi64(_mm512_castps512_ps256(y)),
                                                       _mm512_cvtps_epi64(_mm512_extractf32x8_ps(y, 1))));
    }
    const double tile_sum = static_cast<double>(_mm512_reduce_add_epi64(isum)) * 0x1p-56;
    l = l * corr + static_cast<float>(tile_sum);
    m = m_new;
    return true;
}

// Visible keys of one query token on the tile: j < tn and mask != -inf (no mask: every j < tn).
uint64_t visible_keys(const float* mrow, int64_t tn) {
    uint64_t vis = 0;
    const __m512 neg_inf = _mm512_set1_ps(kNegInf);
    #pragma GCC unroll 16
    for (int c = 0; c < 4; ++c) {
        const __mmask16 valid = tail_mask(std::max<int64_t>(0, tn - 16 * c));
        __mmask16 k = valid;
        if (mrow && valid) k = _mm512_mask_cmp_ps_mask(valid, _mm512_maskz_loadu_ps(valid, mrow + 16 * c), neg_inf, _CMP_NEQ_UQ);
        vis |= static_cast<uint64_t>(k) << (16 * c);
    }
    return vis;
}

// ---------------------------------------------------------------- tiles

Elt elt_of(DType t) { return t == DType::F32 ? Elt::F32 : t == DType::F16 ? Elt::F16 : Elt::BF16; }

// Rows [0, tn) of a tile (row j at src + j * stride) as floats into dst[j * n ..].
template <Elt E>
void convert_rows(const char* src, size_t stride, int64_t tn, int64_t n, float* dst) {
    const __mmask16 tail = tail_mask(n % 16);
    const size_t pf = static_cast<size_t>(n) * (E == Elt::F32 ? 4 : 2);
    for (int64_t j = 0; j < tn; ++j) {
        const char* row = src + static_cast<size_t>(j) * stride;
        prefetch_row(row + static_cast<size_t>(kTile) * stride, pf);
        float* out = dst + j * n;
        int64_t e = 0;
        for (; e + 16 <= n; e += 16) _mm512_storeu_ps(out + e, load16<E>(row, e));
        if (e < n) _mm512_mask_storeu_ps(out + e, tail, load16_masked<E>(row, e, tail));
    }
}

void convert_tile(DType t, const char* src, size_t stride, int64_t tn, int64_t n, float* dst) {
    switch (t) {
        case DType::F32: return convert_rows<Elt::F32>(src, stride, tn, n, dst);
        case DType::F16: return convert_rows<Elt::F16>(src, stride, tn, n, dst);
        case DType::BF16: return convert_rows<Elt::BF16>(src, stride, tn, n, dst);
        default:
            for (int64_t j = 0; j < tn; ++j) {
                const char* row = src + static_cast<size_t>(j) * stride;
                if (!avx2::kv_row_to_f32(t, row, dst + j * n, n)) quant::dequantize_row(t, row, dst + j * n, n);
            }
    }
}

// Row blocks of a unit: 4 rows (the last one padded by repeating) while 3 or more remain, then 2,
// then 1; fn(r0, RB-constant-tag) per block.
template <typename Fn>
void for_row_blocks(int64_t rows, Fn&& fn) {
    int64_t r = 0;
    while (r < rows) {
        const int64_t left = rows - r;
        if (left >= 3) {
            fn(r, std::integral_constant<int, 4>{});
            r += 4;
        } else if (left == 2) {
            fn(r, std::integral_constant<int, 2>{});
            r += 2;
        } else {
            fn(r, std::integral_constant<int, 1>{});
            r += 1;
        }
    }
}

template <int RB>
void scores_dispatch(Elt e, const float* const* q, const char* kb, size_t ks, int64_t tn, int64_t jlo, int64_t jhi,
                     int64_t D, float* s, size_t pf) {
    switch (e) {
        case Elt::F32: score_rows<Elt::F32, RB>(q, kb, ks, tn, jlo, jhi, D, s, pf); break;
        case Elt::F16: score_rows<Elt::F16, RB>(q, kb, ks, tn, jlo, jhi, D, s, pf); break;
        case Elt::BF16: score_rows<Elt::BF16, RB>(q, kb, ks, tn, jlo, jhi, D, s, pf); break;
    }
}

template <int RB, bool Dense>
void acc_dispatch(Elt e, const float* const* p, const uint64_t* nz, const float* corr, float* const* acc,
                  const char* vb, size_t vs, int64_t jlo, int64_t jhi, int64_t Dv, size_t pf) {
    switch (e) {
        case Elt::F32: acc_rows<Elt::F32, RB, Dense>(p, nz, corr, acc, vb, vs, jlo, jhi, Dv, pf); break;
        case Elt::F16: acc_rows<Elt::F16, RB, Dense>(p, nz, corr, acc, vb, vs, jlo, jhi, Dv, pf); break;
        case Elt::BF16: acc_rows<Elt::BF16, RB, Dense>(p, nz, corr, acc, vb, vs, jlo, jhi, Dv, pf); break;
    }
}

inline int lowest(uint64_t x) { return __builtin_ctzll(x); }
inline int highest(uint64_t x) { return 63 - __builtin_clzll(x); }

}  // namespace

void flash_attn(Tensor& dst, const OpCtx& c, const FlashPlan& p) {
    const Tensor& q = *dst.src[0];
    const Tensor& k = *dst.src[1];
    const Tensor& v = *dst.src[2];
    const Tensor* mask = dst.src[3];
    const float scale = dst.param_f(0);
    const float softcap = dst.param_f(1);
    const int64_t n_kv = k.ne[1];

    unsigned char* base = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(c.per_thread) + 63) & ~uintptr_t(63));
    float* kt = reinterpret_cast<float*>(base + p.off_kt);
    float* vt = reinterpret_cast<float*>(base + p.off_vt);
    float* acc = reinterpret_cast<float*>(base + p.off_acc);
    float* sc = reinterpret_cast<float*>(base + p.off_s);
    float* m = reinterpret_cast<float*>(base + p.off_ml);
    float* l = m + p.rows_pad;
    float* corr = l + p.rows_pad;
    float* zero = reinterpret_cast<float*>(base + p.off_zero);
    float* dummy = reinterpret_cast<float*>(base + p.off_dummy);
    const float** qptr = reinterpret_cast<const float**>(base + p.off_qptr);
    uint64_t* vis = reinterpret_cast<uint64_t*>(base + p.off_vis);
    std::memset(zero, 0, sizeof(float) * kTile);

    const bool v_float = v.type == DType::F32 || v.type == DType::F16 || v.type == DType::BF16;

    // Unit us: KV head by KV head (the threads share a head's K/V while it is hot in cache), each
    // head's query blocks in decreasing order (causal: later blocks see more keys, so the work
    // left at the end comes in small pieces). A decode-shaped unit holds heads_per_unit KV heads;
    // each tile goes through them one after another, every head with its own rows (slot base
    // h * head_rows_pad), so each row sees exactly the operations it would alone.
    const int64_t per_head = p.n_qb * p.n_sub;
    auto run_unit = [&](int64_t us) {
        const int64_t hk0 = us / per_head * p.heads_per_unit;
        const int64_t qb = p.n_qb - 1 - us % per_head / p.n_sub;
        const int64_t sub = us % p.n_sub;
        const int64_t q0 = qb * p.qblk, nqb = std::min(p.nq, q0 + p.qblk) - q0;
        const int64_t rows = p.gsub * nqb;  // rows per KV head: row r = hi * nqb + qi
        for (int64_t h = 0; h < p.heads_per_unit; ++h) {
            const int64_t h0 = (hk0 + h) * p.group + sub * p.gsub;
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t slot = h * p.head_rows_pad + r;
                qptr[slot] = reinterpret_cast<const float*>(q.row_ptr(q0 + r % nqb, h0 + r / nqb));
                std::memset(acc + slot * p.Dv, 0, sizeof(float) * static_cast<size_t>(p.Dv));
                m[slot] = kNegInf;
                l[slot] = 0.0f;
            }
        }
        const bool conv_k = k.type != DType::F32 && rows >= kFaConvertRows;
        const bool conv_v = !v_float || (v.type != DType::F32 && rows >= kFaConvertRows);
        const Elt ek = conv_k ? Elt::F32 : elt_of(k.type);
        const Elt ev = conv_v ? Elt::F32 : elt_of(v.type);
        // Direct reads of the cache prefetch the next tile's rows (converted tiles: convert_rows).
        const size_t pf_k = conv_k ? 0 : dtype_row_bytes(k.type, p.D);
        const size_t pf_v = conv_v ? 0 : dtype_row_bytes(v.type, p.Dv);

        for (int64_t t0 = 0; t0 < n_kv; t0 += kTile) {
            const int64_t tn = std::min(kTile, n_kv - t0);
            uint64_t any = 0;
            for (int64_t qi = 0; qi < nqb; ++qi) {
                const float* mrow = mask ? reinterpret_cast<const float*>(mask->row_ptr(q0 + qi)) + t0 : nullptr;
                if (mrow) prefetch_row(reinterpret_cast<const char*>(mrow + kTile), sizeof(float) * kTile);
                vis[qi] = visible_keys(mrow, tn);
                any |= vis[qi];
            }
            if (any == 0) continue;
            for (int64_t h = 0; h < p.heads_per_unit; ++h) {
                const int64_t hk = hk0 + h, base = h * p.head_rows_pad;
                // The tile's rows of head hk: straight from the cache, or converted to F32 into buf.
                auto tile_rows = [&](const Tensor& t, bool convert, int64_t n, float* buf, size_t& stride) {
                    const char* rows = t.row_ptr(t0, hk);
                    stride = t.nb[1];
                    if (!convert) return rows;
                    convert_tile(t.type, rows, stride, tn, n, buf);
                    stride = sizeof(float) * static_cast<size_t>(n);
                    return reinterpret_cast<const char*>(buf);
                };
                size_t ks = 0, vs = 0;
                const char* kb = tile_rows(k, conv_k, p.D, kt, ks);
                const char* vb = tile_rows(v, conv_v, p.Dv, vt, vs);
                // Every row block's scores while the K tile is hot, then softmax and P.V per block
                // while the V tile is.
                for_row_blocks(rows, [&](int64_t r0, auto tag) {
                    constexpr int RB = decltype(tag)::value;
                    const int64_t nr = std::min<int64_t>(RB, rows - r0);
                    uint64_t bvis = 0;
                    for (int64_t i = 0; i < nr; ++i) bvis |= vis[(r0 + i) % nqb];
                    if (bvis == 0) return;
                    const float* qp[RB];
                    #pragma GCC unroll 16
                    for (int i = 0; i < RB; ++i) qp[i] = qptr[base + r0 + std::min<int64_t>(i, nr - 1)];
                    scores_dispatch<RB>(ek, qp, kb, ks, tn, lowest(bvis), highest(bvis), p.D, sc + (base + r0) * kTile, pf_k);
                });
                for_row_blocks(rows, [&](int64_t r0, auto tag) {
                    constexpr int RB = decltype(tag)::value;
                    const int64_t nr = std::min<int64_t>(RB, rows - r0);
                    const float* pp[RB];
                    float cr[RB];
                    float* ap[RB];
                    uint64_t nzr[RB];
                    uint64_t live = 0;
                    bool dense = true;
                    #pragma GCC unroll 16
                    for (int i = 0; i < RB; ++i) {
                        pp[i] = zero;
                        cr[i] = 1.0f;
                        ap[i] = dummy;
                        nzr[i] = 0;
                        if (i >= nr) continue;
                        const int64_t r = base + r0 + i, qi = (r0 + i) % nqb;
                        const float* mrow = mask ? reinterpret_cast<const float*>(mask->row_ptr(q0 + qi)) + t0 : nullptr;
                        ap[i] = acc + r * p.Dv;
                        if (row_softmax(sc + r * kTile, vis[qi], mrow, tn, scale, softcap, m[r], l[r], corr[r], nzr[i])) {
                            pp[i] = sc + r * kTile;
                            cr[i] = corr[r];
                            live |= nzr[i];
                        }
                    }
                    if (live == 0) return;
                    const int jlo = lowest(live), jhi = highest(live);
                    const uint64_t range = (jhi == 63 ? ~uint64_t(0) : (uint64_t(1) << (jhi + 1)) - 1) & ~((uint64_t(1) << jlo) - 1);
                    #pragma GCC unroll 16
                    for (int i = 0; i < RB; ++i) dense = dense && (nzr[i] & range) == range;
                    if (dense) acc_dispatch<RB, true>(ev, pp, nzr, cr, ap, vb, vs, jlo, jhi, p.Dv, pf_v);
                    else acc_dispatch<RB, false>(ev, pp, nzr, cr, ap, vb, vs, jlo, jhi, p.Dv, pf_v);
                });
            }
        }
        // Output [Dv, n_head, n_q]: row (head h, query i) at dst.row_ptr(h, i).
        for (int64_t h = 0; h < p.heads_per_unit; ++h) {
            const int64_t h0 = (hk0 + h) * p.group + sub * p.gsub;
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t slot = h * p.head_rows_pad + r;
                float* out = reinterpret_cast<float*>(dst.row_ptr(h0 + r / nqb, q0 + r % nqb));
                const __m512 inv = _mm512_set1_ps(l[slot] > 0.0f ? 1.0f / l[slot] : 0.0f);
                const float* a = acc + slot * p.Dv;
                for (int64_t d = 0; d < p.Dv; d += 16) {
                    const __mmask16 mk = tail_mask(p.Dv - d);
                    _mm512_mask_storeu_ps(out + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, a + d), inv));
                }
            }
        }
    };
    if (c.unit_counter) {  // claimed dynamically
        for (int64_t us = first_unit(c); us < p.units; us = next_unit(c, us)) run_unit(us);
    } else {  // dealt in a snake (0 1 .. n-1 n-1 .. 1 0 0 1 ..): similar shares
        for (int64_t round = 0;; ++round) {
            const int64_t us = round * c.nth + (round % 2 == 0 ? c.ith : c.nth - 1 - c.ith);
            if (us >= p.units) break;
            run_unit(us);
        }
    }
}

}  // namespace hearth::cpu::avx512
