// Tests of the quantized matmul kernels (src/backend/cpu/matmul.h): every supported weight type on
// every ISA this CPU has, against the scalar path and against dequantize-then-float-dot, over
// shapes with odd block counts, unaligned row ranges and several activation column counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q5_0, DType::Q5_K,
                        DType::Q4_1, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::IQ4_NL, DType::IQ4_XS};

// Byte offsets of the fp16 scale fields inside one block of each format (the rest of a block may be
// any bit pattern, so tests fill blocks with random bytes and then write finite scales here).
std::vector<int> f16_fields(DType t) {
    switch (t) {
        case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
        case DType::Q2_K: return {80, 82};
        case DType::Q3_K: return {108};
        case DType::Q6_K: return {208};
        default: return {0};
    }
}

struct Weights {
    std::vector<uint8_t> bytes;
    size_t row_bytes;
};

Weights random_weights(DType t, int64_t rows, int64_t k, std::mt19937& rng) {
    const DTypeTraits& tr = dtype_traits(t);
    Weights w;
    w.row_bytes = dtype_row_bytes(t, k) + 8;  // a stride larger than the row, as views may have
    w.bytes.resize(w.row_bytes * rows);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (auto& b : w.bytes) b = static_cast<uint8_t>(byte(rng));
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t blk = 0; blk < k / tr.block_elems; ++blk) {
            uint8_t* p = w.bytes.data() + r * w.row_bytes + blk * tr.block_bytes;
            for (int off : f16_fields(t)) {
                const uint16_t h = fp32_to_fp16(scale(rng));
                std::memcpy(p + off, &h, 2);
            }
        }
    }
    return w;
}

double nmse(const std::vector<double>& ref, const std::vector<float>& got) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        num += (ref[i] - got[i]) * (ref[i] - got[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

std::vector<Isa> isas() {
    std::vector<Isa> v = {Isa::Scalar};
    if (best_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
    if (best_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
    return v;
}

struct Case {
    DType type;
    int64_t k;
};

void run_case(DType t, int64_t k, int64_t n, std::mt19937& rng) {
    const int64_t rows = 21, r0 = 3, r1 = 20, out_stride = rows + 5;
    Weights w = random_weights(t, rows, k, rng);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(n * (k + 3));
    for (auto& v : x) v = nd(rng);
    std::vector<uint8_t> aq(quantized_activation_bytes(t, k, n));
    quantize_activations(t, x.data(), k + 3, k, 0, n, aq.data());

    // Reference 1: dequantized weights . original float activations (double accumulation).
    std::vector<float> wrow(k);
    std::vector<double> ref_float(static_cast<size_t>((r1 - r0) * n));
    for (int64_t i = r0; i < r1; ++i) {
        quant::dequantize_row(t, w.bytes.data() + i * w.row_bytes, wrow.data(), k);
        for (int64_t c = 0; c < n; ++c) {
            double s = 0;
            for (int64_t e = 0; e < k; ++e) s += static_cast<double>(wrow[e]) * x[c * (k + 3) + e];
            ref_float[(i - r0) * n + c] = s;
        }
    }

    std::vector<float> scalar_out;
    for (Isa isa : isas()) {
        const float sentinel = -12345.0f;
        std::vector<float> out(static_cast<size_t>(out_stride * n), sentinel);
        matmul_quantized_isa(isa, t, w.bytes.data(), w.row_bytes, aq.data(), k, n, r0, r1, out.data(), out_stride);
        std::vector<float> got(ref_float.size());
        for (int64_t c = 0; c < n; ++c) {
            for (int64_t i = 0; i < out_stride; ++i) {
                const float v = out[c * out_stride + i];
                if (i < r0 || i >= r1) ASSERT_EQ(v, sentinel) << "wrote outside the row range, row " << i;
                else got[(i - r0) * n + c] = v;
            }
        }
        const std::string what = std::string(dtype_name(t)) + " k=" + std::to_string(k) + " n=" +
                                 std::to_string(n) + " isa=" + isa_name(isa);
        // Activation quantization (8 bits per 32) bounds the error against the float reference.
        EXPECT_LT(nmse(ref_float, got), 2e-4) << what;
        if (isa == Isa::Scalar) {
            scalar_out = got;
        } else {
            std::vector<double> sref(scalar_out.begin(), scalar_out.end());
            EXPECT_LT(nmse(sref, got), 1e-10) << what << " vs scalar";
        }
    }
}

class KernelsMatmul : public ::testing::TestWithParam<DType> {};

TEST_P(KernelsMatmul, AllShapesAllIsas) {
    const DType t = GetParam();
    std::mt19937 rng(1234 + static_cast<int>(t));
    const int64_t be = dtype_traits(t).block_elems;
    const std::vector<int64_t> ks = be == 32 ? std::vector<int64_t>{32, 64, 96, 160, 192, 224, 288, 640, 1056} : std::vector<int64_t>{256, 768, 2816};
    for (int64_t k : ks)
        for (int64_t n : {1, 2, 3, 4, 5, 7, 16, 33}) run_case(t, k, n, rng);
}

INSTANTIATE_TEST_SUITE_P(Types, KernelsMatmul, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// The scalar decoder is itself checked bit-exactly: with activations that are exact small integers
// (scale 1 per block) the scalar kernel must reproduce dequantize_row . x up to float rounding.
TEST(KernelsMatmul, ScalarMatchesDequantizedExactActivations) {
    std::mt19937 rng(7);
    for (DType t : kTypes) {
        const int64_t k = 512;
        Weights w = random_weights(t, 2, k, rng);
        std::vector<float> x(k);
        std::uniform_int_distribution<int> iv(-127, 127);
        for (int64_t b = 0; b < k / 32; ++b) {
            for (int e = 0; e < 32; ++e) x[b * 32 + e] = static_cast<float>(iv(rng));
            x[b * 32] = 127.0f;  // amax 127 -> activation scale exactly 1, q == x
        }
        std::vector<uint8_t> aq(quantized_activation_bytes(t, k, 1));
        quantize_activations(t, x.data(), k, k, 0, 1, aq.data());
        std::vector<float> wrow(k), out(2);
        matmul_quantized_isa(Isa::Scalar, t, w.bytes.data(), w.row_bytes, aq.data(), k, 1, 0, 2, out.data(), 2);
        for (int r = 0; r < 2; ++r) {
            quant::dequantize_row(t, w.bytes.data() + r * w.row_bytes, wrow.data(), k);
            double s = 0, mag = 0;
            for (int64_t e = 0; e < k; ++e) {
                s += static_cast<double>(wrow[e]) * x[e];
                mag += std::fabs(static_cast<double>(wrow[e]) * x[e]);
            }
            EXPECT_NEAR(out[r], s, 1e-5 * mag + 1e-6) << dtype_name(t);
        }
    }
}

TEST(KernelsMatmul, ActivationQuantizationIdenticalOnEveryIsa) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    const int64_t k = 1024, n = 5;
    std::vector<float> x(n * k);
    for (auto& v : x) v = nd(rng);
    for (int64_t i = 0; i < 32; ++i) x[64 + i] = 0.0f;  // an all-zero block
    x[200] = 1e-30f;                                      // a tiny block maximum
    for (int64_t i = 0; i < 32; ++i) x[256 + i] = 1e-41f * static_cast<float>(i % 3);  // denormal block
    x[320] = std::numeric_limits<float>::infinity();    // inf / nan inputs: defined bytes, same on every ISA
    x[353] = -std::numeric_limits<float>::infinity();
    x[390] = std::numeric_limits<float>::quiet_NaN();
    x[420] = std::numeric_limits<float>::quiet_NaN();
    x[421] = 5.0f;
    for (DType t : {DType::Q4_0, DType::Q4_1}) {  // the per-32 activation schemes too
        // k, and 736 = 16 + 7 blocks: the 16-block groups of the AVX-512 quantizer plus a tail
        for (int64_t kk : {k, int64_t{736}}) {
            const size_t b32 = quantized_activation_bytes(t, kk, n);
            std::vector<uint8_t> r32(b32, 0xAB);
            quantize_activations_isa(Isa::Scalar, t, x.data(), k, kk, 0, n, r32.data());
            for (Isa isa : isas()) {
                std::vector<uint8_t> got(b32, 0xCD);
                quantize_activations_isa(isa, t, x.data(), k, kk, 0, n, got.data());
                EXPECT_EQ(got, r32) << isa_name(isa) << " " << dtype_name(t) << " k " << kk;
            }
        }
    }
    const size_t bytes = quantized_activation_bytes(DType::Q4_K, k, n);
    std::vector<uint8_t> ref(bytes, 0xAB);
    quantize_activations_isa(Isa::Scalar, DType::Q4_K, x.data(), k, k, 0, n, ref.data());
    for (Isa isa : isas()) {
        std::vector<uint8_t> got(bytes, 0xCD);
        quantize_activations_isa(isa, DType::Q4_K, x.data(), k, k, 0, n, got.data());
        EXPECT_EQ(got, ref) << isa_name(isa);
    }
    // Rows outside [row_begin, row_end) are untouched.
    std::vector<uint8_t> part(bytes, 0xEE);
    quantize_activations(DType::Q4_K, x.data(), k, k, 2, 4, part.data());
    const size_t rb = quantized_activation_bytes(DType::Q4_K, k, 1);
    for (size_t i = 0; i < 2 * rb; ++i) ASSERT_EQ(part[i], 0xEE);
    for (size_t i = 4 * rb; i < bytes; ++i) ASSERT_EQ(part[i], 0xEE);
    EXPECT_TRUE(std::equal(part.begin() + 2 * rb, part.begin() + 4 * rb, ref.begin() + 2 * rb));
}

// All weight bytes 0xFF (largest codes) against activations that quantize to +-127 everywhere: the
// integer sums of every kernel are at their extremes (int16 runs of the AVX2 path, VNNI offsets).
TEST(KernelsMatmul, ExtremeCodesDoNotOverflow) {
    for (DType t : kTypes) {
        const int64_t k = 512, rows = 19, n = 6;
        const DTypeTraits& tr = dtype_traits(t);
        std::vector<uint8_t> w(dtype_row_bytes(t, k) * rows, 0xFF);
        for (size_t off = 0; off < w.size(); off += tr.block_bytes) {
            for (int f : f16_fields(t)) {
                const uint16_t h = fp32_to_fp16(0.01f);
                std::memcpy(w.data() + off + f, &h, 2);
            }
        }
        std::vector<float> x(n * k);
        for (int64_t c = 0; c < n; ++c)
            for (int64_t e = 0; e < k; ++e) x[c * k + e] = (c % 2 == 0) ? 1.0f : -1.0f;
        std::vector<uint8_t> aq(quantized_activation_bytes(t, k, n));
        quantize_activations(t, x.data(), k, k, 0, n, aq.data());
        std::vector<float> wr(k);
        std::vector<double> ref(rows * n);
        for (int64_t i = 0; i < rows; ++i) {
            quant::dequantize_row(t, w.data() + i * dtype_row_bytes(t, k), wr.data(), k);
            for (int64_t c = 0; c < n; ++c) {
                double sum = 0;
                for (int64_t e = 0; e < k; ++e) sum += static_cast<double>(wr[e]) * x[c * k + e];
                ref[c * rows + i] = sum;
            }
        }
        for (Isa isa : isas()) {
            for (int64_t cols : {int64_t{1}, int64_t{3}, n}) {
                std::vector<float> out(rows * cols);
                matmul_quantized_isa(isa, t, w.data(), dtype_row_bytes(t, k), aq.data(), k, cols, 0, rows, out.data(), rows);
                for (int64_t i = 0; i < rows * cols; ++i)
                    ASSERT_NEAR(out[i], ref[i], 1e-3 * std::fabs(ref[i]) + 1e-4)
                        << dtype_name(t) << " " << isa_name(isa) << " n=" << cols << " i=" << i;
            }
        }
    }
}

TEST(KernelsMatmul, RejectsBadArguments) {
    EXPECT_FALSE(matmul_supported(DType::F32));
    EXPECT_THROW(quantized_activation_bytes(DType::F16, 64, 1), Error);
    EXPECT_THROW(quantized_activation_bytes(static_cast<DType>(4), 64, 1), Error);  // a removed type id
    EXPECT_THROW(quantized_activation_bytes(static_cast<DType>(999), 64, 1), Error);
    EXPECT_THROW(quantized_activation_bytes(DType::Q4_K, 300, 1), Error);
    EXPECT_THROW(quantized_activation_bytes(DType::Q4_0, 0, 1), Error);
    std::vector<uint8_t> w(18 * 2), aq(quantized_activation_bytes(DType::Q4_0, 32, 1));
    std::vector<float> out(4);
    EXPECT_THROW(matmul_quantized(DType::Q4_0, w.data(), 18, aq.data(), 32, 1, 1, 0, out.data(), 1), Error);
    EXPECT_THROW(matmul_quantized(DType::Q4_0, w.data(), 10, aq.data(), 32, 1, 0, 1, out.data(), 1), Error);
    EXPECT_THROW(matmul_quantized(DType::Q4_0, w.data(), 18, aq.data(), 32, 2, 0, 2, out.data(), 1), Error);
}

TEST(KernelsMatmul, ZeroActivationsGiveZero) {
    std::mt19937 rng(3);
    for (DType t : kTypes) {
        const int64_t k = 256;
        Weights w = random_weights(t, 9, k, rng);
        std::vector<float> x(5 * k, 0.0f);
        std::vector<uint8_t> aq(quantized_activation_bytes(t, k, 5));
        quantize_activations(t, x.data(), k, k, 0, 5, aq.data());
        std::vector<float> out(5 * 9, 1.0f);
        matmul_quantized(t, w.bytes.data(), w.row_bytes, aq.data(), k, 5, 0, 9, out.data(), 9);
        for (float v : out) EXPECT_EQ(v, 0.0f) << dtype_name(t);
    }
}

}  // namespace
}  // namespace hearth::cpu
