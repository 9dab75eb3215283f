// AVX2/FMA/F16C kernel of the float-weight matmul (matmul_float.h): tiles of 4 weight rows x up to
// 2 activation rows (8 x 1 for n = 1); each output owns one 8-lane accumulator (value k -> lane k % 8, zero-padded
// tail), folded by one fixed tree, so every tile shape gives bitwise the same value per output.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/matmul_float.h"

namespace hearth::cpu::detail {
namespace {

constexpr int kCols = 2;  // activation rows per 4-row tile: 8 accumulators + 4 weights + 1 x of 16 ymm

// 8 weights of row `row` starting at element e, as floats (F16 via vcvtph2ps, BF16 by shifting).
template <DType T>
inline __m256 load_w(const char* row, int64_t e) {
    if constexpr (T == DType::F32) {
        return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + e);
    } else {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + e));
        if constexpr (T == DType::F16) return _mm256_cvtph_ps(h);
        else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
}

// The first `rem` (< 8) weights from element e; other lanes +0.
template <DType T>
inline __m256 load_w_tail(const char* row, int64_t e, int rem, __m256i mask) {
    if constexpr (T == DType::F32) {
        return _mm256_maskload_ps(reinterpret_cast<const float*>(row) + e, mask);
    } else {
        alignas(16) uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(tmp, reinterpret_cast<const uint16_t*>(row) + e, static_cast<size_t>(rem) * 2);
        const __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
        if constexpr (T == DType::F16) return _mm256_cvtph_ps(h);
        else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
}

// 8 lanes -> 4: lane l = v[l] + v[l+4].
inline __m128 fold(__m256 v) { return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); }

// Lane r = full sum of accumulator r: fold, then (f[0] + f[1]) + (f[2] + f[3]).
inline __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    return _mm_hadd_ps(_mm_hadd_ps(fold(a), fold(b)), _mm_hadd_ps(fold(c), fold(d)));
}

// out[c*out_stride + r] = dot(w[r], x[c]) for r < valid (<= R, a multiple of 4), c < NC.
template <DType T, int R, int NC>
inline void tile(const char* const* w, const float* const* x, int64_t k, float* out, int64_t out_stride, int valid,
                 int64_t prefetch = 0) {
    __m256 acc[R][NC];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_setzero_ps();
    int64_t e = 0;
    for (; e + 8 <= k; e += 8) {
        constexpr int64_t bpe = T == DType::F32 ? 4 : 2;  // bytes per weight
        if constexpr (NC == 1) {  // memory-bound n = 1: fetch the same cache line of the next row tile
            if (((e * bpe) & 63) == 0)
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) _mm_prefetch(w[r] + prefetch + e * bpe, _MM_HINT_T0);
        }
        if constexpr (NC == 1) {  // one x vector: convert each weight vector right before its FMA (fewer live registers)
            const __m256 xv = _mm256_loadu_ps(x[0] + e);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][0] = _mm256_fmadd_ps(load_w<T>(w[r], e), xv, acc[r][0]);
            continue;
        }
        __m256 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = load_w<T>(w[r], e);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            const __m256 xv = _mm256_loadu_ps(x[c] + e);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
    if (e < k) {
        const int rem = static_cast<int>(k - e);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = load_w_tail<T>(w[r], e, rem, mask);
#pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) {
            const __m256 xv = _mm256_maskload_ps(x[c] + e, mask);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 2
        for (int g = 0; g < R / 4; ++g) {
            const int v = std::clamp(valid - 4 * g, 0, 4);
            const __m128 s = reduce4(acc[4 * g][c], acc[4 * g + 1][c], acc[4 * g + 2][c], acc[4 * g + 3][c]);
            float* o = out + c * out_stride + 4 * g;
            if (v == 4) {
                _mm_storeu_ps(o, s);
            } else if (v > 0) {
                alignas(16) float tmp[4];
                _mm_store_ps(tmp, s);
                for (int r = 0; r < v; ++r) o[r] = tmp[r];
            }
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
                if constexpr (R == 8) tile<T, 8, 1>(rows, xp, k, o, out_stride, valid, 8 * static_cast<int64_t>(w_row_bytes));  // only with n == 1
                else if (nc == 1) tile<T, R, 1>(rows, xp, k, o, out_stride, valid);
                else tile<T, R, 2>(rows, xp, k, o, out_stride, valid);
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

void matmul_float_avx2(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                       int64_t k, int64_t n, int64_t m0, int64_t m1, float* out, int64_t out_stride) {
    switch (wtype) {
        case DType::F32: return run<DType::F32>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
        case DType::F16: return run<DType::F16>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
        default: return run<DType::BF16>(w, w_row_bytes, x, x_stride, k, n, m0, m1, out, out_stride);
    }
}

}  // namespace hearth::cpu::detail
