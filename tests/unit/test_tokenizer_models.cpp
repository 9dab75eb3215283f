// Tokenizers of the shared test models and the real Gemma 3 model: prompt tokenizations must
// equal llama.cpp's (golden completions-*.json prompt_tokens, BOS as the model says).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kShared = HEARTH_SHARED_DIR;

void check_golden(const std::string& model) {
    const auto file = hearth::gguf::File::open(kShared + "/models/" + model + ".gguf");
    const auto tok = hearth::Tokenizer::from_gguf(*file);
    std::ifstream in(kShared + "/golden/completions-" + model + ".json");
    ASSERT_TRUE(in.good());
    const auto golden = nlohmann::json::parse(in);
    ASSERT_GT(golden["cases"].size(), 3u);
    for (const auto& c : golden["cases"]) {
        const std::string prompt = c["prompt"];
        const auto expected = c["prompt_tokens"].get<std::vector<int32_t>>();
        EXPECT_EQ(tok->encode(prompt, /*add_special=*/true, /*parse_special=*/true), expected) << prompt;
        EXPECT_EQ(tok->decode(expected), prompt);
    }
}

TEST(TokenizerModels, TinyQwen3BpeMatchesGolden) {
    check_golden("tiny-qwen3-bpe-f16");
}
TEST(TokenizerModels, TinyLlamaSpmMatchesGolden) {
    check_golden("tiny-llama-spm-f16");
}

std::string gemma_path() {
    for (const std::string p : {std::string(HEARTH_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf",
                                std::string("/tmp/gm/g.gguf")}) {
        if (std::filesystem::exists(p)) return p;
    }
    return {};
}

TEST(TokenizerModels, Gemma3) {
    const std::string path = gemma_path();
    if (path.empty()) GTEST_SKIP() << "Gemma 3 model not present (scripts/fetch_model)";
    const auto file = hearth::gguf::File::open(path);
    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = hearth::Tokenizer::from_gguf(*file);
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("gemma3 vocab (%d tokens) loaded in %.1f ms\n", tok->n_vocab(), load_ms);
    EXPECT_LT(load_ms, 3000.0);  // well under a second on an idle machine; generous for shared CI cores

    EXPECT_EQ(tok->n_vocab(), 262144);
    EXPECT_EQ(tok->bos(), 2);
    EXPECT_EQ(tok->eos(), 1);
    EXPECT_EQ(tok->eot(), 106);  // <end_of_turn>
    EXPECT_TRUE(tok->is_eog(1));
    EXPECT_TRUE(tok->is_eog(106));
    EXPECT_FALSE(tok->is_eog(105));
    EXPECT_TRUE(tok->add_bos());
    // Chat markup: <start_of_turn>=105, "user"=2364, "\n"=107 (a user-defined token, always matched).
    EXPECT_EQ(tok->encode("<start_of_turn>user\n", false, true), (std::vector<int32_t>{105, 2364, 107}));
    const auto plain = tok->encode("<start_of_turn>user\n", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 105), 0);
    EXPECT_EQ(tok->decode(plain), "<start_of_turn>user\n");
    // No space prefix for Gemma: "Hello" and " Hello" differ, and round-trip exactly.
    const auto a = tok->encode("Hello world", true, false);
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a[0], 2);
    EXPECT_EQ(tok->decode(a), "Hello world");
    EXPECT_NE(tok->encode("Hello", false, false), tok->encode(" Hello", false, false));
    // Byte fallback: a character outside the vocabulary is spelled with <0xXX> tokens.
    const std::string rare = "\xF0\x9F\xAB\xA8";  // U+1FAE8 (recent emoji)
    EXPECT_EQ(tok->decode(tok->encode(rare, false, false)), rare);
}

}  // namespace
