// Dispatch of the scalar reference row conversions (quant.h) to the per-family implementations,
// argument checks, and the reference dot product (dequantize both rows, accumulate in double).
#include "quant/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "quant/quant_impl.h"

namespace hearth::quant {
namespace {

void check_row(DType type, int64_t n, bool quantizing) {
    const DTypeTraits& t = dtype_traits(type);
    if (quantizing ? !t.can_quantize : !t.can_dequantize)
        throw Error(ErrorKind::Unsupported, std::string("no reference ") + (quantizing ? "quantizer" : "dequantizer") +
                                                " for type " + t.name);
    if (n < 0 || n % t.block_elems != 0)
        throw Error(ErrorKind::InvalidArgument, "row of " + std::to_string(n) + " elements is not a multiple of the " +
                                                    t.name + " block size " + std::to_string(t.block_elems));
}

}  // namespace

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
    check_row(type, n, false);
    if (n == 0) return;
    using namespace detail;
    switch (type) {
        case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
        case DType::F16: dequantize_f16(src, dst, n); return;
        case DType::BF16: dequantize_bf16(src, dst, n); return;
        case DType::Q4_0: dequantize_q4_0(src, dst, n); return;
        case DType::Q4_1: dequantize_q4_1(src, dst, n); return;
        case DType::Q5_0: dequantize_q5_0(src, dst, n); return;
        case DType::Q5_1: dequantize_q5_1(src, dst, n); return;
        case DType::Q8_0: dequantize_q8_0(src, dst, n); return;
        case DType::Q8_1: dequantize_q8_1(src, dst, n); return;
        case DType::Q2_K: dequantize_q2_k(src, dst, n); return;
        case DType::Q3_K: dequantize_q3_k(src, dst, n); return;
        case DType::Q4_K: dequantize_q4_k(src, dst, n); return;
        case DType::Q5_K: dequantize_q5_k(src, dst, n); return;
        case DType::Q6_K: dequantize_q6_k(src, dst, n); return;
        case DType::Q8_K: dequantize_q8_k(src, dst, n); return;
        case DType::IQ4_NL: dequantize_iq4_nl(src, dst, n); return;
        case DType::IQ4_XS: dequantize_iq4_xs(src, dst, n); return;
        default: break;
    }
    HEARTH_ASSERT_MSG(false, "can_dequantize flag set for a type without a dequantizer");
}

void quantize_row(DType type, const float* src, void* dst, int64_t n, const float* importance) {
    check_row(type, n, true);
    if (n == 0) return;
    const bool is_float = type == DType::F32 || type == DType::F16 || type == DType::BF16;
    if (!is_float) {
        for (int64_t i = 0; i < n; ++i) {
            if (!std::isfinite(src[i]))
                throw Error(ErrorKind::InvalidArgument,
                            "cannot quantize non-finite value at element " + std::to_string(i) + " to " + dtype_name(type));
        }
    }
    if (importance) {
        for (int64_t i = 0; i < n; ++i) {
            if (!(importance[i] >= 0.0f) || !std::isfinite(importance[i]))
                throw Error(ErrorKind::InvalidArgument, "importance weight at element " + std::to_string(i) +
                                                            " is negative or not finite");
        }
    }
    using namespace detail;
    switch (type) {
        case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
        case DType::F16: quantize_f16(src, dst, n); return;
        case DType::BF16: quantize_bf16(src, dst, n); return;
        case DType::Q4_0: quantize_q4_0(src, dst, n, importance); return;
        case DType::Q4_1: quantize_q4_1(src, dst, n, importance); return;
        case DType::Q5_0: quantize_q5_0(src, dst, n, importance); return;
        case DType::Q5_1: quantize_q5_1(src, dst, n, importance); return;
        case DType::Q8_0: quantize_q8_0(src, dst, n); return;
        case DType::Q8_1: quantize_q8_1(src, dst, n); return;
        case DType::Q2_K: quantize_q2_k(src, dst, n, importance); return;
        case DType::Q3_K: quantize_q3_k(src, dst, n, importance); return;
        case DType::Q4_K: quantize_q4_k(src, dst, n, importance); return;
        case DType::Q5_K: quantize_q5_k(src, dst, n, importance); return;
        case DType::Q6_K: quantize_q6_k(src, dst, n, importance); return;
        case DType::Q8_K: quantize_q8_k(src, dst, n); return;
        case DType::IQ4_NL: quantize_iq4_nl(src, dst, n, importance); return;
        case DType::IQ4_XS: quantize_iq4_xs(src, dst, n, importance); return;
        default: break;
    }
    HEARTH_ASSERT_MSG(false, "can_quantize flag set for a type without a quantizer");
}

DType vec_dot_type(DType weight_type) {
    switch (weight_type) {
        case DType::F32:
        case DType::F16:
        case DType::BF16: return DType::F32;
        case DType::Q4_0:
        case DType::Q5_0:
        case DType::Q8_0:
        case DType::IQ4_NL: return DType::Q8_0;
        case DType::Q4_1:
        case DType::Q5_1: return DType::Q8_1;
        case DType::Q2_K:
        case DType::Q3_K:
        case DType::Q4_K:
        case DType::Q5_K:
        case DType::Q6_K:
        case DType::IQ4_XS: return DType::Q8_K;
        default: break;
    }
    throw Error(ErrorKind::Unsupported, std::string("no dot product for weight type ") + dtype_name(weight_type));
}

float vec_dot(DType type, int64_t n, const void* w, const void* a) {
    const DType at = vec_dot_type(type);
    check_row(type, n, false);
    check_row(at, n, false);
    // Work in chunks of 256 elements: a multiple of every block size, so both rows split on block
    // boundaries (n is a multiple of the larger block size of the pair for quantized types).
    constexpr int64_t kChunk = 256;
    float wf[kChunk], af[kChunk];
    const auto* wp = static_cast<const uint8_t*>(w);
    const auto* ap = static_cast<const uint8_t*>(a);
    double sum = 0;
    for (int64_t i = 0; i < n; i += kChunk) {
        const int64_t len = std::min<int64_t>(kChunk, n - i);
        dequantize_row(type, wp + dtype_row_bytes(type, i), wf, len);
        dequantize_row(at, ap + dtype_row_bytes(at, i), af, len);
        for (int64_t j = 0; j < len; ++j) sum += double(wf[j]) * double(af[j]);
    }
    return static_cast<float>(sum);
}

}  // namespace hearth::quant
