// Pre-tokenizer regex sets: every supported tokenizer.ggml.pre name compiles, and the main
// families split text the way their published patterns do (contractions, digit grouping,
// whitespace runs). Also: concurrent encoding from several threads gives identical results.
#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using Pieces = std::vector<std::string>;

Pieces split(const std::string& pre, const std::string& text) {
    const auto p = hearth::PreTokenizer::for_name(pre);
    std::vector<std::string_view> views;
    p->split(text, views);
    return Pieces(views.begin(), views.end());
}

TEST(TokenizerPretok, AllNamesCompileAndCoverInput) {
    const std::string text =
        "Hello  world's 1234567 \xC3\x84pfel!\n\n\t \xE4\xBD\xA0\xE5\xA5\xBD 3.14 \xF0\x9F\xA6\x99";
    for (const char* name : {"",
                             "default",
                             "gpt-2",
                             "gpt2",
                             "mpt",
                             "olmo",
                             "jais",
                             "llama3",
                             "llama-bpe",
                             "llama-v3",
                             "dbrx",
                             "smaug-bpe",
                             "falcon3",
                             "pixtral",
                             "qwen2",
                             "stablelm2",
                             "deepseek-r1-qwen",
                             "megrez",
                             "starcoder",
                             "refact",
                             "command-r",
                             "smollm",
                             "codeshell",
                             "exaone",
                             "minerva",
                             "gpt-neox",
                             "falcon",
                             "deepseek-llm",
                             "deepseek-coder"}) {
        std::string joined;
        for (const auto& p : split(name, text)) {
            EXPECT_FALSE(p.empty()) << name;
            joined += p;
        }
        EXPECT_EQ(joined, text) << name;
    }
    EXPECT_THROW(split("not-a-pre-tokenizer", "x"), hearth::Error);
}

TEST(TokenizerPretok, FamilySplits) {
    EXPECT_EQ(split("gpt-2", "Hello  world's 123456"), (Pieces{"Hello", " ", " world", "'s", " 123456"}));
    EXPECT_EQ(split("llama3", "Hello 123456 WORLD'S"), (Pieces{"Hello", " ", "123", "456", " WORLD", "'S"}));
    EXPECT_EQ(split("qwen2", "ab 123"), (Pieces{"ab", " ", "1", "2", "3"}));
    EXPECT_EQ(split("llama3", "x\n\n  y"), (Pieces{"x", "\n\n", " ", " y"}));
    EXPECT_EQ(split("starcoder", "a12 b"), (Pieces{"a", "1", "2", " b"}));
    EXPECT_EQ(split("deepseek-coder", "ab12\ncd"), (Pieces{"ab", "1", "2", "\n", "cd"}));
}

TEST(TokenizerPretok, ConcurrentEncodeIsConsistent) {
    const auto file =
        hearth::gguf::File::open(std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-deepseek-llm.gguf");
    const auto tok = hearth::Tokenizer::from_gguf(*file);
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "Concurrency test " + std::to_string(i * 7919) + " \xE4\xBD\xA0\xE5\xA5\xBD! ";
    const auto expected = tok->encode(text, true, true);
    std::vector<int> ok(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int r = 0; r < 5; ++r) ok[t] += tok->encode(text, true, true) == expected;
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 5);
}

}  // namespace
