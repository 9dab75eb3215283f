// AVX-512 P.V accumulation straight from a Q8_0 / Q4_0 / IQ4_NL V cache, for the quantized-K
// flash-attention path (cpu_ops_attention.cpp). Each V row is dequantized in registers — d * q with
// one rounding, exactly the floats kv_row_to_f32 writes — and added into up to four query rows'
// accumulators by the FMAs acc_weighted_rows performs (key order, p == 0 skipped), so the result is
// bitwise that of acc_weighted_rows on the converted tile, without writing the tile and reading it
// back (which was half of a decode step at 4096 cells of Q8_0 cache).
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized where they are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/flash_attn_avx512.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant_blocks.h"

namespace hearth::cpu::avx512 {
namespace {

// Format facts: Q8_0 block = fp16 d, 32 int8; Q4_0 / IQ4_NL block = fp16 d, 16 bytes of nibbles
// (low nibbles are elements 0-15, high nibbles 16-31).
struct Q8Rows {
    static constexpr int64_t kBlock = 34;
    static void dequant32(const uint8_t* blk, __m512 d, __m512 v[2]) {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18));
        v[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d);
        v[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d);
    }
};
template <bool kNonLinear>
struct Q4Rows {
    static constexpr int64_t kBlock = 18;
    static void dequant32(const uint8_t* blk, __m512 d, __m512 v[2]) {
        const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
        const __m128i m4 = _mm_set1_epi8(0x0F);
        __m128i lo = _mm_and_si128(qs, m4), hi = _mm_and_si128(_mm_srli_epi16(qs, 4), m4);
        __m512i q0, q1;
        if constexpr (kNonLinear) {  // codes -> the IQ4 grid (int8)
            const __m128i grid = _mm_loadu_si128(reinterpret_cast<const __m128i*>(quant::kIQ4Values));
            q0 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(grid, lo));
            q1 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(grid, hi));
        } else {  // q - 8
            q0 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(lo), _mm512_set1_epi32(8));
            q1 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(hi), _mm512_set1_epi32(8));
        }
        v[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(q0), d);
        v[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(q1), d);
    }
};

// 64 values (two blocks) of a row, as floats d * q. The fp16 scale converts with vcvtph2ps (exact,
// as fp16_to_fp32 is; the software routine was a branchy hot spot here).
template <class F>
inline void dequant64(const uint8_t* blocks, __m512 v[4]) {
#pragma GCC unroll 2
    for (int b = 0; b < 2; ++b) {
        const uint8_t* blk = blocks + F::kBlock * b;
        uint16_t h;
        std::memcpy(&h, blk, 2);
        F::dequant32(blk, _mm512_set1_ps(_cvtsh_ss(h)), v + 2 * b);
    }
}

template <class F, int NR>
void acc_rows(const float* const* p, float* const* acc, const char* vb, size_t vs, int64_t tn, int64_t Dv) {
    for (int64_t d0 = 0; d0 < Dv; d0 += 64) {
        __m512 a[NR][4];
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) a[r][c] = _mm512_loadu_ps(acc[r] + d0 + 16 * c);
        for (int64_t j = 0; j < tn; ++j) {
            __m512 v[4];
            dequant64<F>(reinterpret_cast<const uint8_t*>(vb + static_cast<size_t>(j) * vs) + (d0 / 32) * F::kBlock, v);
#pragma GCC unroll 4
            for (int r = 0; r < NR; ++r) {
                if (p[r][j] == 0.0f) continue;
                const __m512 pj = _mm512_set1_ps(p[r][j]);
#pragma GCC unroll 4
                for (int c = 0; c < 4; ++c) a[r][c] = _mm512_fmadd_ps(pj, v[c], a[r][c]);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) _mm512_storeu_ps(acc[r] + d0 + 16 * c, a[r][c]);
    }
}

template <class F>
void acc_rows_all(const float* const* p, float* const* acc, int n_rows, const char* vb, size_t vs, int64_t tn,
                  int64_t Dv) {
    for (int r = 0; r < n_rows; r += 4) {
        switch (n_rows - r) {
            case 1: acc_rows<F, 1>(p + r, acc + r, vb, vs, tn, Dv); break;
            case 2: acc_rows<F, 2>(p + r, acc + r, vb, vs, tn, Dv); break;
            case 3: acc_rows<F, 3>(p + r, acc + r, vb, vs, tn, Dv); break;
            default: acc_rows<F, 4>(p + r, acc + r, vb, vs, tn, Dv); break;
        }
    }
}

}  // namespace

void acc_rows_v_direct(DType v, const float* const* p, float* const* acc, int n_rows, const char* vb, size_t vs,
                       int64_t tn, int64_t Dv) {
    switch (v) {
        case DType::Q8_0: return acc_rows_all<Q8Rows>(p, acc, n_rows, vb, vs, tn, Dv);
        case DType::Q4_0: return acc_rows_all<Q4Rows<false>>(p, acc, n_rows, vb, vs, tn, Dv);
        case DType::IQ4_NL: return acc_rows_all<Q4Rows<true>>(p, acc, n_rows, vb, vs, tn, Dv);
        default: HEARTH_ASSERT_MSG(false, "acc_rows_v_direct: unsupported V type");
    }
}

}  // namespace hearth::cpu::avx512
