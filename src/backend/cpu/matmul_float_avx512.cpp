// AVX-512 kernel of the float-weight matmul (matmul_float.h): tiles of 4 weight rows x up to 6
// activation rows (8 x 1 for n = 1); each output owns one 16-lane accumulator (value k -> lane k % 16, masked tail),
// folded by one fixed tree, so every tile shape gives bitwise the same value per output.
// GCC 12's AVX-512 headers build "undefined" vectors from a self-initialised local, which
// -W(maybe-)uninitialized reports wherever those intrinsics are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/matmul_float.h"

namespace hearth::cpu::detail {
namespace {

constexpr int kCols = 6;  // activation rows per 4-row tile: 24 accumulators + 4 weights + 1 x = 29 zmm

// 16 weights of row `row` starting at element e, as floats (F16 via vcvtph2ps, BF16 by shifting).
template <DType T>
inline __m512 load_w(const char* row, int64_t e) {
    if constexpr (T == DType::F32) {
        return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + e);
    } else {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(row) + e));
        if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
        else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

// Same for the lanes in m (the K tail); other lanes are +0.
template <DType T>
inline __m512 load_w_masked(const char* row, int64_t e, __mmask16 m) {
    if constexpr (T == DType::F32) {
        return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + e);
    } else {
        const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + e);
        if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
        else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

// 16 lanes -> 4: lane l of the result = (v[l] + v[l+8]) + (v[l+4] + v[l+12]).
inline __m128 fold(__m512 v) {
    const __m256 y = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    return _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
}

// Lane r = full sum of accumulator r: fold, then (f[0] + f[1]) + (f[2] + f[3]).
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    return _mm_hadd_ps(_mm_hadd_ps(fold(a), fold(b)), _mm_hadd_ps(fold(c), fold(d)));
}

// out[c*out_stride + r] = dot(w[r], x[c]) for r < valid (<= R, a multiple of 4), c < NC.
template <DType T, int R, int NC>
inline void tile(const char* const* w, const float* const* x, int64_t k, float* out, int64_t out_stride, int valid,
                 int64_t prefetch = 0) {
    __m512 acc[R][NC];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
    int64_t e = 0;
    for (; e + 16 <= k; e += 16) {
        constexpr int64_t bpe = T == DType::F32 ? 4 : 2;  // bytes per weight
        if constexpr (NC == 1) {  // memory-bound n = 1: fetch the same cache line of the next row tile
            if (((e * bpe) & 63) == 0)
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) _mm_prefetch(w[r] + prefetch + e * bpe, _MM_HINT_T0);
        }
        __m512 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = load_w<T>(w[r], e);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            const __m512 xv = _mm512_loadu_ps(x[c] + e);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
    if (e < k) {
        const __mmask16 m = static_cast<__mmask16>((1u << (k - e)) - 1u);
        __m512 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = load_w_masked<T>(w[r], e, m);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x[c] + e);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 2
        for (int g = 0; g < R / 4; ++g) {
            const int v = std::clamp(valid - 4 * g, 0, 4);
            if (v > 0)
                _mm_mask_storeu_ps(out + c * out_stride + 4 * g, static_cast<__mmask8>((1u << v) - 1u),
                                   reduce4(acc[4 * g][c], acc[4 * g + 1][c], acc[4 * g + 2][c], acc[4 * g + 3][c]));
        }
}

// Row tiles of R weight rows over all activation rows, blocked by ~256 KiB of activations (kept in
// L2 and reused by every row tile). R = 8 serves n = 1 (8 independent FMA chains), R = 4 the rest.
template <DType T, int R>
void run_rows(const char* wb, size_t w_row_bytes, const float* x, int64_t x_stride, int64_t k, int64_t n,
              int64_t m0, int64_t m1, float* out, int64_t out_stride) {
    const int64_t block = std::max<int64_t>(kCols, (256 * 1024 / (4 * k)) / kCols * kCols);
    for (int64_t j0 = 0; j0 < n; j0 += block) {
        const int64_t j1 = std::min(n, j0 + block);
        for (int64_t i = m0; i < m1; i += R) {
            const int valid = static_cast<int>(std::min<int64_t>(R, m1 - i));
            const char* rows[R];  // rows past m1 repeat the last one (computed, never stored)
            for (int r = 0; r < R; ++r) rows[r] = wb + (i + std::min(r, valid - 1)) * static_cast<int64_t>(w_row_bytes);
            for (int64_t j = j0; j < j1; j += kCols) {
                const int nc = static_cast<int>(std::min<int64_t>(kCols, j1 - j));
                const float* xp[kCols];
                for (int c = 0; c < kCols; ++c) xp[c] = x + (j + std::min(c, nc - 1)) * x_stride;
                float* o = out + j * out_stride + i;
                if constexpr (R == 8) {
                    tile<T, 8, 1>(rows, xp, k, o, out_stride, valid, 8 * static_cast<int64_t>(w_row_bytes));  // only called with n == 1
                } else {
                    switch (nc) {
                        case 6: tile<T, R, 6>(rows, xp, k, o, out_stride, valid); break;
                        case 5: tile<T, R, 5>(rows, xp, k, o, out_stride, valid); break;
                        case 4: tile<T, R, 4>(rows, xp, k, o, out_stride, valid); break;
                        case 3: tile<T, R, 3>(rows, xp, k, o, out_stride, valid); break;
                        case 2: tile<T, R, 2>(rows, xp, k, o, out_stride, valid); break;
                        default: tile<T, R, 1>(rows, xp, k, o, out_stride, valid); break;
                    }
                }
            }
        }
    }
}

template <DType T>
void run(const void* w, size_t w_row_bytes, const float* x, int64_t x_stride, int64_t k, int64_t n, int64_t m0,
         int64_t m1, float* out, int64_t out_stride) {
    const char* wb = static_cast<const char*>(w);
    if (n == 1) run_rows<T, 8>(wb, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
    else run_rows<T, 4>(wb, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
}

}  // namespace

void matmul_float_avx512(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                         int64_t k, int64_t n, int64_t m0, int64_t m1, float* out, int64_t out_stride) {
    switch (wtype) {
        case DType::F32: return run<DType::F32>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
        case DType::F16: return run<DType::F16>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
        default: return run<DType::BF16>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
    }
}

}  // namespace hearth::cpu::detail
