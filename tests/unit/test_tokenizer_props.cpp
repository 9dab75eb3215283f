// Tokenizer properties: exact round trip on random valid UTF-8, defined handling of invalid
// UTF-8 (each bad byte becomes U+FFFD), empty and very long inputs, special-token parsing,
// end-of-generation flags, and errors for malformed tokenizer metadata.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <random>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "core/utf8.h"

namespace {

using hearth::Tokenizer;

const Tokenizer& vocab(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    auto& slot = cache[name];
    if (!slot) {
        const auto file =
            hearth::gguf::File::open(std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-" + name + ".gguf");
        slot = Tokenizer::from_gguf(*file);
    }
    return *slot;
}

// Random valid UTF-8 mixing ASCII (spaces and newlines frequent), Latin-1, Cyrillic, CJK, emoji.
std::string random_utf8(std::mt19937& rng, size_t n_chars) {
    std::string s;
    std::uniform_int_distribution<int> kind(0, 9);
    for (size_t i = 0; i < n_chars; ++i) {
        uint32_t cp = 0;
        switch (kind(rng)) {
            case 0:
                cp = " \n\t"[rng() % 3];
                break;
            case 1:
                cp = 0xA0 + rng() % 0x160;
                break;
            case 2:
                cp = 0x400 + rng() % 0x100;
                break;
            case 3:
                cp = 0x4E00 + rng() % 0x5000;
                break;
            case 4:
                cp = 0x1F300 + rng() % 0x300;
                break;
            case 5:
                cp = 0x20 + rng() % 0x5F;
                break;  // (Falcon cannot spell C0 controls)
            default:
                cp = "abcdefghij klmnopqrstuvwxyz.,'0123456789"[rng() % 40];
                break;
        }
        hearth::utf8::append(s, cp);
    }
    return s;
}

const char* const kRoundTripVocabs[] = {"llama-spm", "phi-3",        "gpt-2",          "falcon",
                                        "starcoder", "deepseek-llm", "deepseek-coder", "mpt",
                                        "refact",    "gpt-neox",     "baichuan"};

TEST(TokenizerProps, RandomValidUtf8RoundTrips) {
    std::mt19937 rng(1234);
    for (const char* name : kRoundTripVocabs) {
        const Tokenizer& tok = vocab(name);
        for (int trial = 0; trial < 40; ++trial) {
            const std::string text = random_utf8(rng, 1 + rng() % 60);
            const auto ids = tok.encode(text, false, false);
            ASSERT_EQ(tok.decode(ids), text) << name << " trial " << trial;
            for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
        }
    }
}

TEST(TokenizerProps, InvalidUtf8BecomesReplacementCharacter) {
    std::mt19937 rng(99);
    for (const char* name : {"llama-spm", "gpt-2", "deepseek-coder", "bert-bge"}) {
        const Tokenizer& tok = vocab(name);
        for (int trial = 0; trial < 100; ++trial) {
            std::string bytes(rng() % 40, '\0');
            for (char& c : bytes) c = static_cast<char>(rng());
            const auto ids = tok.encode(bytes, true, true);  // must not crash or throw
            for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
            if (tok.kind() != hearth::TokenizerKind::WordPiece) {
                EXPECT_EQ(tok.decode(tok.encode(bytes, false, false)), hearth::utf8::sanitize(bytes)) << name;
            }
        }
    }
    // Truncated, overlong and surrogate sequences are each replaced byte by byte.
    EXPECT_EQ(hearth::utf8::sanitize("a\xE2\x82"), "a\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(hearth::utf8::sanitize("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(hearth::utf8::sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(hearth::utf8::sanitize("ok \xF0\x9F\xA6\x99"), "ok \xF0\x9F\xA6\x99");
    // Streaming: how many trailing bytes wait for the rest of their character.
    EXPECT_EQ(hearth::utf8::incomplete_tail("ab"), 0u);
    EXPECT_EQ(hearth::utf8::incomplete_tail("a\xF0\x9F"), 2u);
    EXPECT_EQ(hearth::utf8::incomplete_tail("a\xF0\x9F\xA6"), 3u);
    EXPECT_EQ(hearth::utf8::incomplete_tail("a\xF0\x9F\xA6\x99"), 0u);
    EXPECT_EQ(hearth::utf8::incomplete_tail("\xC3"), 1u);
    EXPECT_EQ(hearth::utf8::incomplete_tail("\xFF"), 0u);
}

TEST(TokenizerProps, EmptyInput) {
    EXPECT_TRUE(vocab("llama-spm").encode("", false, true).empty());
    EXPECT_EQ(vocab("llama-spm").encode("", true, true), std::vector<int32_t>{1});
    EXPECT_TRUE(vocab("gpt-2").encode("", true, true).empty());  // GPT-2 adds no BOS
    EXPECT_EQ(vocab("bert-bge").encode("", true, true), (std::vector<int32_t>{101, 102}));
    EXPECT_EQ(vocab("gpt-2").decode({}), "");
}

TEST(TokenizerProps, SpecialTokensOnlyWhenParsed) {
    const Tokenizer& gpt2 = vocab("gpt-2");
    EXPECT_EQ(gpt2.encode("a<|endoftext|>b", false, true), (std::vector<int32_t>{64, 50256, 65}));
    const auto plain = gpt2.encode("a<|endoftext|>b", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
    EXPECT_EQ(gpt2.decode(plain), "a<|endoftext|>b");
    EXPECT_EQ(gpt2.token_to_piece(50256), "");
    EXPECT_EQ(gpt2.token_to_piece(50256, true), "<|endoftext|>");

    const Tokenizer& phi3 = vocab("phi-3");
    const auto ids = phi3.encode("<|user|>\nHi<|end|>", true, true);
    ASSERT_GE(ids.size(), 4u);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 32010);
    EXPECT_EQ(ids.back(), 32007);
    EXPECT_TRUE(phi3.is_eog(32007));
    EXPECT_TRUE(phi3.is_control(32007));
    const auto no_parse = phi3.encode("<|user|>", false, false);
    EXPECT_EQ(std::count(no_parse.begin(), no_parse.end(), 32010), 0);

    // Longest match first: "<fim_prefix>" is not cut at a shorter special token.
    const Tokenizer& sc = vocab("starcoder");
    EXPECT_EQ(sc.encode("<fim_prefix>x<fim_suffix>", false, true).front(), 1);
    EXPECT_EQ(*sc.find_token("<fim_suffix>"), 3);
}

TEST(TokenizerProps, UserDefinedTokensAlwaysMatch) {
    // MPT's whitespace-run tokens are user-defined (HF added tokens): matched even without
    // parse_special, as the reference tokenizations require.
    const Tokenizer& mpt = vocab("mpt");
    const auto four = *mpt.find_token("    ");
    EXPECT_EQ(mpt.token_type(four), hearth::TokenType::UserDefined);
    const auto ids = mpt.encode("a    b", false, false);
    EXPECT_NE(std::find(ids.begin(), ids.end(), four), ids.end());
}

TEST(TokenizerProps, SpecialIdsAndFlags) {
    const Tokenizer& spm = vocab("llama-spm");
    EXPECT_EQ(spm.kind(), hearth::TokenizerKind::Spm);
    EXPECT_EQ(spm.bos(), 1);
    EXPECT_EQ(spm.eos(), 2);
    EXPECT_TRUE(spm.add_bos());
    EXPECT_FALSE(spm.add_eos());
    EXPECT_TRUE(spm.is_eog(2));
    EXPECT_FALSE(spm.is_eog(1));
    EXPECT_FALSE(spm.is_eog(-5));
    EXPECT_FALSE(spm.is_eog(1 << 30));
    EXPECT_EQ(spm.token_to_piece(-1), "");
    EXPECT_EQ(spm.token_text(1 << 30), "");
    EXPECT_EQ(spm.token_to_piece(*spm.find_token("<0x41>")), "A");  // byte fallback token
    EXPECT_EQ(spm.token_to_piece(*spm.find_token("\xE2\x96\x81Hello")), " Hello");

    const Tokenizer& bert = vocab("bert-bge");
    EXPECT_EQ(bert.kind(), hearth::TokenizerKind::WordPiece);
    EXPECT_EQ(bert.cls(), 101);
    EXPECT_EQ(bert.sep(), 102);
    EXPECT_EQ(bert.unk(), 100);
    const auto ids = bert.encode("Hello world", true, true);
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    EXPECT_EQ(bert.decode({ids[1], ids[2]}), "hello world");
    // A word longer than 100 characters is [UNK].
    EXPECT_EQ(bert.encode(std::string(150, 'a'), false, false), std::vector<int32_t>{100});
}

TEST(TokenizerProps, WordPieceNormalization) {
    const Tokenizer& bert = vocab("bert-bge");
    // Lowercase + accents stripped (NFD, drop Mn), punctuation and CJK ideographs isolated.
    EXPECT_EQ(bert.encode("H\xC3\xA9llo, \xE4\xB8\x96\xE7\x95\x8C!", false, false),
              bert.encode("hello , \xE4\xB8\x96 \xE7\x95\x8C !", false, false));
    // Control and private-use characters vanish; other whitespace splits words.
    EXPECT_EQ(bert.encode("a\x01"
                          "b\xEE\x80\x80"
                          "c",
                          false, false),
              bert.encode("abc", false, false));
    EXPECT_EQ(bert.encode("ab\xE3\x80\x80"
                          "cd",
                          false, false),
              bert.encode("ab cd", false, false));
    const auto ids = bert.encode("unaffable", false, false);
    EXPECT_GT(ids.size(), 1u);  // spelled with ## continuation pieces
    EXPECT_EQ(bert.decode(ids), "unaffable");
}

double encode_ms(const Tokenizer& tok, const std::string& text, size_t* n_tokens) {
    const auto t0 = std::chrono::steady_clock::now();
    *n_tokens = tok.encode(text, true, true).size();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(TokenizerProps, LongInputsAreFast) {
    std::mt19937 rng(7);
    std::string prose;
    while (prose.size() < (1u << 20)) prose += random_utf8(rng, 200);
    const std::string one_word(1u << 20, 'x');  // a single 1 MiB pre-token
    for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"}) {
        const Tokenizer& tok = vocab(name);
        size_t n1 = 0, n2 = 0;
        const double ms1 = encode_ms(tok, prose, &n1);
        const double ms2 = encode_ms(tok, one_word, &n2);
        std::printf("%-14s 1 MiB mixed text: %zu tokens in %.0f ms; 1 MiB one word: %zu tokens in %.0f ms\n",
                    name, n1, ms1, n2, ms2);
        EXPECT_GT(n1, 1000u);
        EXPECT_LT(ms1, 20000.0);  // no quadratic blow-up (linear-log runs take well under 2 s)
        EXPECT_LT(ms2, 20000.0);
    }
}

// ---- malformed metadata ----------------------------------------------------------------------

hearth::gguf::Writer base_writer(const std::string& model) {
    hearth::gguf::Writer w;
    w.set("tokenizer.ggml.model", hearth::gguf::Value::str(model));
    w.set("tokenizer.ggml.tokens", hearth::gguf::Value::string_array({"a", "b", "ab", "<s>"}));
    w.set("tokenizer.ggml.scores", hearth::gguf::Value::float_array({-1, -1, -0.5, 0}));
    w.set("tokenizer.ggml.token_type",
          hearth::gguf::Value::int_array(hearth::gguf::ValueType::Int32, {1, 1, 1, 3}));
    return w;
}

std::unique_ptr<Tokenizer> load(const hearth::gguf::Writer& w) {
    const auto bytes = w.to_bytes();
    const auto file = hearth::gguf::File::from_memory(bytes.data(), bytes.size());
    return Tokenizer::from_gguf(*file);
}

void expect_error(const hearth::gguf::Writer& w, hearth::ErrorKind kind, const std::string& key) {
    try {
        load(w);
        ADD_FAILURE() << "expected an error naming " << key;
    } catch (const hearth::Error& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
}

TEST(TokenizerProps, TinySyntheticSpm) {
    auto w = base_writer("llama");
    w.set("tokenizer.ggml.bos_token_id", hearth::gguf::Value::u32(3));
    w.set("tokenizer.ggml.add_space_prefix", hearth::gguf::Value::boolean(false));
    const auto tok = load(w);
    EXPECT_EQ(tok->encode("abab", true, false), (std::vector<int32_t>{3, 2, 2}));
    EXPECT_EQ(tok->encode("ba<s>", false, true), (std::vector<int32_t>{1, 0, 3}));
    // No byte tokens and no <unk>: unspellable characters are dropped, never a crash.
    EXPECT_EQ(tok->encode("zaz", false, false), (std::vector<int32_t>{0}));
}

TEST(TokenizerProps, MalformedMetadataThrows) {
    expect_error(hearth::gguf::Writer{}, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.model");
    expect_error(base_writer("unigram-xyz"), hearth::ErrorKind::Unsupported, "tokenizer.ggml.model");
    auto w = base_writer("llama");
    w.set("tokenizer.ggml.scores", hearth::gguf::Value::float_array({1, 2}));
    expect_error(w, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.scores");
    w = base_writer("llama");
    w.set("tokenizer.ggml.token_type",
          hearth::gguf::Value::int_array(hearth::gguf::ValueType::Int32, {1, 1, 1, 9}));
    expect_error(w, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.token_type");
    w = base_writer("llama");
    w.set("tokenizer.ggml.eos_token_id", hearth::gguf::Value::u32(4));
    expect_error(w, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.eos_token_id");
    expect_error(base_writer("gpt2"), hearth::ErrorKind::InvalidFile, "tokenizer.ggml.merges");
    w = base_writer("gpt2");
    w.set("tokenizer.ggml.merges", hearth::gguf::Value::string_array({"ab"}));
    expect_error(w, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.merges");
    w = base_writer("gpt2");
    w.set("tokenizer.ggml.merges", hearth::gguf::Value::string_array({"a b"}));
    w.set("tokenizer.ggml.pre", hearth::gguf::Value::str("no-such-pre"));
    expect_error(w, hearth::ErrorKind::Unsupported, "tokenizer.ggml.pre");
    auto no_tokens = hearth::gguf::Writer{};
    no_tokens.set("tokenizer.ggml.model", hearth::gguf::Value::str("gpt2"));
    expect_error(no_tokens, hearth::ErrorKind::InvalidFile, "tokenizer.ggml.tokens");
}

TEST(TokenizerProps, TinySyntheticBpe) {
    auto w = base_writer("gpt2");
    w.set("tokenizer.ggml.merges", hearth::gguf::Value::string_array({"a b"}));
    w.set("tokenizer.ggml.pre", hearth::gguf::Value::str("gpt-2"));
    const auto tok = load(w);
    EXPECT_EQ(tok->encode("abba", false, false), (std::vector<int32_t>{2, 1, 0}));
    EXPECT_EQ(tok->decode({2, 1, 0}), "abba");
    // Bytes without a byte-level token are dropped (no <unk> here), never a crash.
    EXPECT_EQ(tok->encode("a z", false, false), (std::vector<int32_t>{0}));
}

}  // namespace
