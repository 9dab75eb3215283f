// AVX2 KV-row dequantization for flash attention over a quantized V cache: one 32-value block at a
// time, the integer codes widened to 8-lane int32, converted to float and scaled by the block's
// fp16 scale (plus its min for the _1 formats; fp16 -> fp32 by vcvtph2ps, exact). Values equal the
// reference dequantizers' (same single-rounding products; the _1 formats keep a separate multiply
// and add).
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/cpu_kv_rows.h"
#include "quant/quant_blocks.h"

namespace hearth::cpu::avx2 {
namespace {

using namespace hearth::quant;

// Stores d * float(q) for 8 int32 codes; with m: d * float(q) + m (rounded twice, as the reference).
inline void store8(float* dst, __m256i q, __m256 d) { _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d)); }
inline void store8m(float* dst, __m256i q, __m256 d, __m256 m) {
    __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
    __asm__("" : "+x"(prod));  // keeps the multiply and the add separate (no FMA contraction)
    _mm256_storeu_ps(dst, _mm256_add_ps(prod, m));
}

// 16 packed nibble bytes -> codes of elements 0..15 (low nibbles) and 16..31 (high nibbles).
inline void nibbles(const uint8_t* qs, __m128i& lo, __m128i& hi) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i mask = _mm_set1_epi8(0x0F);
    lo = _mm_and_si128(x, mask);
    hi = _mm_and_si128(_mm_srli_epi16(x, 4), mask);
}

// Element codes of a 16-byte half as four 8-lane int32 groups: [0..8), [8..16) of lo, then of hi.
inline void widen_u8(__m128i lo, __m128i hi, __m256i out[4]) {
    out[0] = _mm256_cvtepu8_epi32(lo);
    out[1] = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
    out[2] = _mm256_cvtepu8_epi32(hi);
    out[3] = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
}

// Fifth bits of elements [8g, 8g+8) from the block's 32-bit qh, as 0 / 16 per lane.
inline __m256i high_bits(uint32_t qh, int g) {
    const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bits = _mm256_srlv_epi32(_mm256_set1_epi32(int(qh >> (8 * g))), shifts);
    return _mm256_slli_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(1)), 4);
}

}  // namespace

bool kv_row_to_f32(DType t, const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    const int64_t nb = n / kQK;
    switch (t) {
        case DType::BF16:
            for (int64_t i = 0; i + 8 <= n; i += 8) {
                const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
                _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
            }
            for (int64_t i = n / 8 * 8; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                dst[i] = bf16_to_fp32(h);
            }
            return true;
        case DType::Q8_0:
            for (int64_t b = 0; b < nb; ++b) {
                const auto blk = load_block<BlockQ8_0>(p, b);
                const __m256 d = _mm256_set1_ps(_cvtsh_ss(blk.d));
                for (int g = 0; g < 4; ++g) {
                    const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk.qs + 8 * g));
                    store8(dst + b * kQK + 8 * g, _mm256_cvtepi8_epi32(q8), d);
                }
            }
            return true;
        case DType::Q4_0:
        case DType::IQ4_NL:
            for (int64_t b = 0; b < nb; ++b) {
                const auto blk = load_block<BlockQ4_0>(p, b);  // IQ4_NL has the same layout (d, qs[16])
                const __m256 d = _mm256_set1_ps(_cvtsh_ss(blk.d));
                __m128i lo, hi;
                nibbles(blk.qs, lo, hi);
                __m256i q[4];
                if (t == DType::IQ4_NL) {  // codes -> the non-linear int8 grid by byte shuffle
                    const __m128i grid = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values));
                    lo = _mm_shuffle_epi8(grid, lo);
                    hi = _mm_shuffle_epi8(grid, hi);
                    q[0] = _mm256_cvtepi8_epi32(lo);
                    q[1] = _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8));
                    q[2] = _mm256_cvtepi8_epi32(hi);
                    q[3] = _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8));
                } else {
                    widen_u8(lo, hi, q);
                    for (auto& v : q) v = _mm256_sub_epi32(v, _mm256_set1_epi32(8));
                }
                for (int g = 0; g < 4; ++g) store8(dst + b * kQK + 8 * g, q[g], d);
            }
            return true;
        case DType::Q4_1:
            for (int64_t b = 0; b < nb; ++b) {
                const auto blk = load_block<BlockQ4_1>(p, b);
                const __m256 d = _mm256_set1_ps(_cvtsh_ss(blk.d)), m = _mm256_set1_ps(_cvtsh_ss(blk.m));
                __m128i lo, hi;
                nibbles(blk.qs, lo, hi);
                __m256i q[4];
                widen_u8(lo, hi, q);
                for (int g = 0; g < 4; ++g) store8m(dst + b * kQK + 8 * g, q[g], d, m);
            }
            return true;
        case DType::Q5_0:
        case DType::Q5_1: {
            const bool one = t == DType::Q5_1;
            for (int64_t b = 0; b < nb; ++b) {
                uint16_t dh, mh = 0;
                uint32_t qh;
                uint8_t qs[16];
                if (one) {
                    const auto blk = load_block<BlockQ5_1>(p, b);
                    dh = blk.d, mh = blk.m;
                    std::memcpy(&qh, blk.qh, 4);
                    std::memcpy(qs, blk.qs, 16);
                } else {
                    const auto blk = load_block<BlockQ5_0>(p, b);
                    dh = blk.d;
                    std::memcpy(&qh, blk.qh, 4);
                    std::memcpy(qs, blk.qs, 16);
                }
                const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh)), m = _mm256_set1_ps(_cvtsh_ss(mh));
                __m128i lo, hi;
                nibbles(qs, lo, hi);
                __m256i q[4];
                widen_u8(lo, hi, q);
                for (int g = 0; g < 4; ++g) {
                    __m256i v = _mm256_or_si256(q[g], high_bits(qh, g));
                    if (one)
                        store8m(dst + b * kQK + 8 * g, v, d, m);
                    else
                        store8(dst + b * kQK + 8 * g, _mm256_sub_epi32(v, _mm256_set1_epi32(16)), d);
                }
            }
            return true;
        }
        default: return false;
    }
}

}  // namespace hearth::cpu::avx2
