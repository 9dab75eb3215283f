// Internal entry points of the per-family reference (de)quantizers, called by the dispatcher in
// quant.cpp. n is always a multiple of the family's block size (checked by the dispatcher).
#pragma once

#include <cstdint>

namespace hearth::quant::detail {

// quant_float.cpp
void dequantize_f16(const void* src, float* dst, int64_t n);
void dequantize_bf16(const void* src, float* dst, int64_t n);
void quantize_f16(const float* src, void* dst, int64_t n);
void quantize_bf16(const float* src, void* dst, int64_t n);

// quant_legacy.cpp (32-element blocks)
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void dequantize_q8_0(const void* src, float* dst, int64_t n);
void dequantize_q8_1(const void* src, float* dst, int64_t n);
void quantize_q4_0(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q4_1(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q5_0(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q5_1(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);

// quant_k.cpp (256-element super-blocks)
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);

// quant_k_search.cpp (least-squares searched K-quant encoders)
void quantize_q2_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q3_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q4_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q5_k(const float* src, void* dst, int64_t n, const float* importance);
void quantize_q6_k(const float* src, void* dst, int64_t n, const float* importance);

// quant_iq.cpp
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_iq4_nl(const float* src, void* dst, int64_t n, const float* importance);
void quantize_iq4_xs(const float* src, void* dst, int64_t n, const float* importance);

}  // namespace hearth::quant::detail
