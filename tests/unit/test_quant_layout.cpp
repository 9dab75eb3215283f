// Block-layout tests: hand-built blocks decode to the values the format defines, and the scale
// packing helpers of Q3_K / Q4_K / Q5_K invert each other.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "quant/dtype.h"
#include "quant/quant.h"
#include "quant/quant_blocks.h"

using namespace hearth;
using namespace hearth::quant;

namespace {

TEST(QuantLayout, Q4_0NibbleOrder) {
    BlockQ4_0 b{};
    b.d = fp32_to_fp16(0.5f);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    float y[32];
    dequantize_row(DType::Q4_0, &b, y, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], 0.5f * (j - 8));
        EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8));
    }
}

TEST(QuantLayout, Q5_1HighBits) {
    BlockQ5_1 b{};
    b.d = fp32_to_fp16(1.0f);
    b.m = fp32_to_fp16(-16.0f);
    b.qh[0] = 0x01;  // element 0 gets bit 4
    b.qh[3] = 0x80;  // element 31 gets bit 4
    b.qs[0] = 0x03;  // element 0 low nibble 3, element 16 low nibble 0
    float y[32];
    dequantize_row(DType::Q5_1, &b, y, 32);
    EXPECT_EQ(y[0], 19.0f - 16.0f);
    EXPECT_EQ(y[16], -16.0f);
    EXPECT_EQ(y[31], 16.0f - 16.0f);
}

TEST(QuantLayout, Q6_KElementMapping) {
    BlockQ6_K b{};
    b.d = fp32_to_fp16(1.0f);
    for (auto& s : b.scales) s = 1;
    // Element 200 = h 1, r 72: low nibble in ql[64 + 8] high half, high bits in qh[32 + 8] >> 4.
    b.ql[72] = 0x50;
    b.qh[40] = 0x30;
    float y[256];
    dequantize_row(DType::Q6_K, &b, y, 256);
    EXPECT_EQ(y[200], float((5 | (3 << 4)) - 32));
    EXPECT_EQ(y[8 + 128], -32.0f + float(b.ql[72] & 0x0F));
}

TEST(QuantLayout, ScaleMinPackingRoundTrips) {
    std::mt19937 gen(1);
    for (int trial = 0; trial < 100; ++trial) {
        int sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
            sc[j] = static_cast<int>(gen() % 64);
            m[j] = static_cast<int>(gen() % 64);
        }
        uint8_t packed[12];
        pack_scale_min_k4(packed, sc, m);
        for (int j = 0; j < 8; ++j) {
            int s2, m2;
            unpack_scale_min_k4(packed, j, &s2, &m2);
            ASSERT_EQ(s2, sc[j]);
            ASSERT_EQ(m2, m[j]);
        }
        int q3[16];
        for (int i = 0; i < 16; ++i) q3[i] = static_cast<int>(gen() % 64);
        pack_scales_q3k(packed, q3);
        for (int i = 0; i < 16; ++i) ASSERT_EQ(unpack_scale_q3k(packed, i), q3[i]);
    }
}

TEST(QuantLayout, Q8_0MatchesClassicFormula) {
    // d = amax / 127 (stored fp16), q = round(x / d) with halves away from zero.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = (j - 16) * 0.25f;
    BlockQ8_0 b;
    quantize_row(DType::Q8_0, x.data(), &b, 32);
    EXPECT_EQ(b.d, fp32_to_fp16(4.0f / 127.0f));
    EXPECT_EQ(b.qs[0], -127);
    EXPECT_EQ(b.qs[16], 0);
    EXPECT_EQ(b.qs[17], static_cast<int8_t>(std::round(0.25f * (127.0f / 4.0f))));
}

}  // namespace
