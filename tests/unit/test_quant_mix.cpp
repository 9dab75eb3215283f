// Tests of the quantization-mix policy: per-tensor types for the K-quant mixes on small llama-like
// models (layer bumps, output/tied-embedding handling, row-size fallbacks) and mix lookup.
#include <gtest/gtest.h>

#include "quant/mix/quant_mix.h"

using namespace hearth;
using namespace hearth::quant;

namespace {

ModelShape four_layers(bool has_output) {
    ModelShape s;
    s.arch = "llama";
    s.n_layer = 4;
    s.n_head = 8;
    s.n_head_kv = 4;
    s.has_output = has_output;
    return s;
}

TEST(QuantMix, LookupIsCaseInsensitive) {
    ASSERT_TRUE(quant_mix_from_name("q4_k_m"));
    EXPECT_EQ(quant_mix_from_name("Q4_K_M")->file_type, 15u);
    EXPECT_EQ(quant_mix_from_name("Q5_K_M")->file_type, 17u);
    EXPECT_EQ(quant_mix_from_name("Q8_0")->file_type, 7u);
    EXPECT_EQ(quant_mix_from_name("BF16")->file_type, 32u);
    EXPECT_FALSE(quant_mix_from_name("Q9_K"));
    EXPECT_EQ(quant_mixes().size(), 16u);
}

TEST(QuantMix, QuantizableTensors) {
    EXPECT_TRUE(is_quantizable_tensor("blk.0.attn_q.weight", 2));
    EXPECT_TRUE(is_quantizable_tensor("token_embd.weight", 2));
    EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_norm.weight", 1));
    EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_q_norm.weight", 2));
    EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_q.bias", 2));
    EXPECT_FALSE(is_quantizable_tensor("blk.0.ffn_gate_inp.weight", 2));
}

TEST(QuantMix, Q4_K_MBumpsLayersLikeLlamaCpp) {
    const QuantMix mix = *quant_mix_from_name("Q4_K_M");
    const ModelShape s = four_layers(true);
    // With 4 layers the "more bits" pattern selects layers 2 and 3.
    for (int l = 0; l < 4; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        const DType bumped = l >= 2 ? DType::Q6_K : DType::Q4_K;
        EXPECT_EQ(choose_tensor_type(mix, s, p + "attn_v.weight", 256), bumped) << l;
        EXPECT_EQ(choose_tensor_type(mix, s, p + "ffn_down.weight", 768), bumped) << l;
        EXPECT_EQ(choose_tensor_type(mix, s, p + "attn_q.weight", 256), DType::Q4_K);
        EXPECT_EQ(choose_tensor_type(mix, s, p + "ffn_up.weight", 256), DType::Q4_K);
    }
    EXPECT_EQ(choose_tensor_type(mix, s, "output.weight", 256), DType::Q6_K);
    EXPECT_EQ(choose_tensor_type(mix, s, "token_embd.weight", 256), DType::Q4_K);
    // Tied embeddings: token_embd plays the output role.
    EXPECT_EQ(choose_tensor_type(mix, four_layers(false), "token_embd.weight", 256), DType::Q6_K);
}

TEST(QuantMix, RowsThatDoNotFitFallBack) {
    const ModelShape s = four_layers(false);
    const QuantMix q4km = *quant_mix_from_name("Q4_K_M");
    EXPECT_EQ(choose_tensor_type(q4km, s, "blk.0.attn_q.weight", 640), DType::Q5_0);
    EXPECT_EQ(choose_tensor_type(q4km, s, "blk.3.attn_v.weight", 640), DType::Q8_0);
    EXPECT_EQ(choose_tensor_type(q4km, s, "token_embd.weight", 640), DType::Q8_0);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q5_K_S"), s, "blk.0.attn_q.weight", 640), DType::Q5_1);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q3_K_S"), s, "blk.0.attn_q.weight", 640), DType::IQ4_NL);
    EXPECT_EQ(choose_tensor_type(q4km, s, "blk.0.attn_q.weight", 100), DType::F16);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q4_0"), s, "blk.0.attn_q.weight", 100), DType::F16);
}

TEST(QuantMix, OtherMixes) {
    const ModelShape s = four_layers(true);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q3_K_M"), s, "blk.0.attn_v.weight", 256), DType::Q5_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q3_K_M"), s, "blk.2.attn_v.weight", 256), DType::Q4_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q3_K_M"), s, "blk.1.attn_output.weight", 256), DType::Q4_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q3_K_L"), s, "blk.1.ffn_down.weight", 256), DType::Q5_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q4_K_S"), s, "blk.3.attn_v.weight", 256), DType::Q5_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q2_K"), s, "blk.0.ffn_down.weight", 256), DType::Q3_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q2_K"), s, "blk.0.attn_v.weight", 256), DType::Q3_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q8_0"), s, "output.weight", 256), DType::Q8_0);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q4_0"), s, "output.weight", 256), DType::Q6_K);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("F16"), s, "output.weight", 256), DType::F16);
    EXPECT_EQ(choose_tensor_type(*quant_mix_from_name("Q6_K"), s, "blk.0.attn_q.weight", 256), DType::Q6_K);
}

}  // namespace
