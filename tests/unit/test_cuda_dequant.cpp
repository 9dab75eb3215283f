// Host check of the CUDA kernels' per-element dequantizers (src/backend/cuda/dequant_elem.h, shared
// by host and device): for every type the CUDA backend reads, every element of random rows must equal
// the reference dequantizer (quant::dequantize_row) exactly. Runs on every build, no GPU needed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cuda/dequant_elem.h"
#include "quant/dtype.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth {
namespace {

class CudaDequantElem : public ::testing::TestWithParam<DType> {};

TEST_P(CudaDequantElem, MatchesReferenceDequantizer) {
    const DType type = GetParam();
    constexpr int64_t n = 1024;  // 4 super-blocks of 256, 32 blocks of 32
    std::mt19937 rng(99 + int(type));
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (int rep = 0; rep < 8; ++rep) {
        std::vector<float> src(n);
        for (float& v : src) v = u(rng) * (rep + 1);
        std::vector<uint8_t> row(dtype_row_bytes(type, n));
        if (type == DType::F32) std::memcpy(row.data(), src.data(), row.size());
        else if (type == DType::F16)
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = fp32_to_fp16(src[i]);
                std::memcpy(row.data() + 2 * i, &h, 2);
            }
        else if (type == DType::BF16)
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = fp32_to_bf16(src[i]);
                std::memcpy(row.data() + 2 * i, &h, 2);
            }
        else quant::quantize_row(type, src.data(), row.data(), n);
        std::vector<float> want(n);
        quant::dequantize_row(type, row.data(), want.data(), n);
        for (int64_t j = 0; j < n; ++j) {
            const float got = cuda::load_elem(uint32_t(type), reinterpret_cast<const char*>(row.data()), j);
            ASSERT_FLOAT_EQ(got, want[size_t(j)]) << dtype_name(type) << " element " << j << " rep " << rep;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, CudaDequantElem,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q5_0, DType::Q8_0,
                                           DType::Q4_K, DType::Q6_K),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

TEST(CudaDequantElem, BlockDotMatchesDequantizedDot) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q5_0}) {
        constexpr int64_t n = 256;
        std::vector<float> w(n), x(n), deq(n);
        for (float& v : w) v = u(rng);
        for (float& v : x) v = u(rng);
        std::vector<uint8_t> row(dtype_row_bytes(type, n));
        quant::quantize_row(type, w.data(), row.data(), n);
        quant::dequantize_row(type, row.data(), deq.data(), n);
        const int bytes = cuda::block32_bytes(uint32_t(type));
        ASSERT_EQ(bytes, int(dtype_traits(type).block_bytes));
        for (int64_t b = 0; b < n / 32; ++b) {
            double want = 0;
            for (int k = 0; k < 32; ++k) want += double(deq[size_t(b * 32 + k)]) * x[size_t(b * 32 + k)];
            const float got = cuda::dot_block32(uint32_t(type), row.data() + b * bytes, x.data() + b * 32);
            EXPECT_NEAR(got, want, 1e-4 * (1 + std::fabs(want))) << dtype_name(type) << " block " << b;
        }
    }
    EXPECT_EQ(cuda::block32_bytes(uint32_t(DType::Q4_K)), 0);
}

TEST(CudaDequantElem, HalfConversionCoversAllBitPatterns) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint8_t bytes[2] = {uint8_t(h & 255), uint8_t(h >> 8)};
        const float got = cuda::half_at(bytes), want = fp16_to_fp32(uint16_t(h));
        if (std::isnan(want)) EXPECT_TRUE(std::isnan(got)) << h;
        else ASSERT_EQ(got, want) << "half bits " << h;
    }
}

}  // namespace
}  // namespace hearth
