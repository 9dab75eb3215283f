// Unit tests of the element-type table and the scalar fp16/bf16 conversions.
#include <gtest/gtest.h>

#include <cmath>

#include "quant/dtype.h"
#include "quant/fp16.h"

using namespace hearth;

TEST(DType, KnownLayouts) {
    EXPECT_EQ(dtype_traits(DType::Q4_0).block_elems, 32u);
    EXPECT_EQ(dtype_traits(DType::Q4_0).block_bytes, 18u);
    EXPECT_EQ(dtype_traits(DType::Q4_K).block_bytes, 144u);
    EXPECT_EQ(dtype_traits(DType::Q6_K).block_bytes, 210u);
    EXPECT_EQ(dtype_traits_by_id(4), nullptr);  // removed Q4_2
    EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
    EXPECT_EQ(dtype_row_bytes(DType::Q8_0, 64), 68u);
}

TEST(Fp16, RoundTripsEveryHalf) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_fp32(static_cast<uint16_t>(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(fp32_to_fp16(f), h) << "half bits " << h;
    }
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
}
