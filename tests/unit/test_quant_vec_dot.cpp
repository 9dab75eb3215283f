// Tests of the reference dot products: pairing types, agreement with the float dot product of the
// dequantized rows and (within quantization error) of the original rows, and the Q8_1 / Q8_K
// activation side data (s, bsums) that optimized kernels rely on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/dtype.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"

using namespace hearth;

namespace {

std::vector<float> gaussian(int64_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = dist(gen);
    return x;
}

std::vector<uint8_t> encode(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(dtype_row_bytes(t, static_cast<int64_t>(x.size())));
    quant::quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
    return q;
}

std::vector<float> decode(DType t, const std::vector<uint8_t>& q, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    quant::dequantize_row(t, q.data(), y.data(), n);
    return y;
}

TEST(QuantVecDot, PairingTypes) {
    EXPECT_EQ(quant::vec_dot_type(DType::Q4_0), DType::Q8_0);
    EXPECT_EQ(quant::vec_dot_type(DType::Q5_0), DType::Q8_0);
    EXPECT_EQ(quant::vec_dot_type(DType::Q8_0), DType::Q8_0);
    EXPECT_EQ(quant::vec_dot_type(DType::IQ4_NL), DType::Q8_0);
    EXPECT_EQ(quant::vec_dot_type(DType::Q4_1), DType::Q8_1);
    EXPECT_EQ(quant::vec_dot_type(DType::Q5_1), DType::Q8_1);
    for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS})
        EXPECT_EQ(quant::vec_dot_type(t), DType::Q8_K) << dtype_name(t);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) EXPECT_EQ(quant::vec_dot_type(t), DType::F32);
    EXPECT_THROW(quant::vec_dot_type(DType::IQ2_XXS), Error);
}

class QuantVecDot : public ::testing::TestWithParam<DType> {};

TEST_P(QuantVecDot, MatchesDotOfDequantizedAndOriginalRows) {
    const DType wt = GetParam();
    const DType at = quant::vec_dot_type(wt);
    const int64_t n = 1024;
    for (uint32_t seed = 1; seed <= 4; ++seed) {
        const auto w = gaussian(n, seed), a = gaussian(n, seed + 100);
        const auto wq = encode(wt, w), aq = encode(at, a);
        const float got = quant::vec_dot(wt, n, wq.data(), aq.data());
        const auto wd = decode(wt, wq, n), ad = decode(at, aq, n);
        double exact_q = 0, exact_f = 0, norm = 0;
        for (int64_t i = 0; i < n; ++i) {
            exact_q += double(wd[i]) * ad[i];
            exact_f += double(w[i]) * a[i];
            norm += std::fabs(double(w[i]) * a[i]);
        }
        EXPECT_NEAR(got, exact_q, 1e-5 * norm) << dtype_name(wt);
        // Quantization error of both rows bounds the distance to the float dot product.
        EXPECT_NEAR(got, exact_f, 0.1 * norm) << dtype_name(wt);
    }
}

INSTANTIATE_TEST_SUITE_P(Types, QuantVecDot,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                                           DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                           DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(QuantVecDot, Q8_1StoresScaledSum) {
    const auto x = gaussian(64, 9);
    const auto q = encode(DType::Q8_1, x);
    for (int b = 0; b < 2; ++b) {
        const auto blk = quant::load_block<quant::BlockQ8_1>(q.data(), b);
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += blk.qs[j];
        EXPECT_NEAR(fp16_to_fp32(blk.s), fp16_to_fp32(blk.d) * sum, 1e-3 * std::fabs(fp16_to_fp32(blk.d) * sum) + 1e-6);
    }
}

TEST(QuantVecDot, Q8_KBlockSums) {
    const auto x = gaussian(512, 10);
    const auto q = encode(DType::Q8_K, x);
    for (int b = 0; b < 2; ++b) {
        const auto blk = quant::load_block<quant::BlockQ8_K>(q.data(), b);
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int l = 0; l < 16; ++l) s += blk.qs[g * 16 + l];
            EXPECT_EQ(blk.bsums[g], s);
        }
        float amax = 0;
        for (int e = 0; e < 256; ++e) amax = std::max(amax, std::fabs(x[b * 256 + e]));
        EXPECT_FLOAT_EQ(blk.d, amax / 127.0f);
    }
}

TEST(QuantVecDot, RejectsRowsThatAreNotBlockMultiples) {
    std::vector<uint8_t> w(4096), a(4096);
    EXPECT_THROW(quant::vec_dot(DType::Q4_K, 128, w.data(), a.data()), Error);
    EXPECT_THROW(quant::vec_dot(DType::Q4_0, 48, w.data(), a.data()), Error);
}

}  // namespace
