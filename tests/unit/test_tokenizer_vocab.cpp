// Tokenizer conformance: every ../shared/vocab/ggml-vocab-*.gguf.inp string must encode to exactly
// the ids in the matching .out line (llama.cpp / Hugging Face reference, no BOS), and decode back.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (true) {
        const size_t hit = s.find(sep, pos);
        if (hit == std::string::npos) break;
        parts.push_back(s.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    parts.push_back(s.substr(pos));
    return parts;
}

std::string vocab_path(const std::string& name) {
    return std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-" + name + ".gguf";
}

class TokenizerVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerVocab, MatchesReferenceIds) {
    const std::string path = vocab_path(GetParam());
    const auto file = hearth::gguf::File::open(path);
    const auto tok = hearth::Tokenizer::from_gguf(*file);
    const auto inputs = split(read_file(path + ".inp"), "\n__ggml_vocab_test__\n");
    const auto outputs = split(read_file(path + ".out"), "\n");
    ASSERT_EQ(inputs.size(), outputs.size());
    ASSERT_GT(inputs.size(), 10u);
    int failures = 0;
    for (size_t i = 0; i + 1 < inputs.size(); ++i) {  // the last element follows the final separator
        std::vector<int32_t> expected;
        std::istringstream ids(outputs[i]);
        for (int32_t id; ids >> id;) expected.push_back(id);
        const auto got = tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
        if (got != expected) {
            ++failures;
            std::ostringstream g;
            for (int32_t id : got) g << ' ' << id;
            ADD_FAILURE() << GetParam() << " case " << i << " text '" << inputs[i]
                          << "'\n  expected:" << outputs[i] << "\n  got:     " << g.str();
        }
    }
    EXPECT_EQ(failures, 0);
}

// Decoding gives back the input (WordPiece lowercases and strips accents: there decode() must be
// stable under re-encoding instead).
TEST_P(TokenizerVocab, DecodeRoundTrip) {
    const std::string path = vocab_path(GetParam());
    const auto file = hearth::gguf::File::open(path);
    const auto tok = hearth::Tokenizer::from_gguf(*file);
    const auto inputs = split(read_file(path + ".inp"), "\n__ggml_vocab_test__\n");
    for (size_t i = 0; i + 1 < inputs.size(); ++i) {
        const auto ids = tok->encode(inputs[i], false, false);
        if (tok->kind() == hearth::TokenizerKind::WordPiece) {
            // Lossy normalization: decoding is only stable under re-encoding (when no [UNK]).
            if (std::find(ids.begin(), ids.end(), tok->unk()) != ids.end()) continue;
            EXPECT_EQ(tok->encode(tok->decode(ids), false, false), ids) << GetParam() << " case " << i;
            continue;
        }
        EXPECT_EQ(tok->decode(ids), inputs[i]) << GetParam() << " case " << i;
        const auto with_bos = tok->encode(inputs[i], true, false);
        EXPECT_EQ(tok->decode(with_bos), inputs[i]) << GetParam() << " case " << i << " (with BOS)";
    }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, TokenizerVocab,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "falcon", "starcoder",
                                           "deepseek-llm", "deepseek-coder", "mpt", "refact", "bert-bge"),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (char& c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

}  // namespace
