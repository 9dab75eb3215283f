// libFuzzer target: tokenizes arbitrary bytes with real vocabularies from ../shared/vocab (SPM,
// byte-level BPE, WordPiece). Checks: no crash/hang/UB, every id in range, and an exact round trip
// decode(encode(x)) == sanitize(x) where the vocabulary can spell every byte (SPM: when x has no
// literal U+2581).
// Input layout: byte 0 picks the vocabulary, byte 1 the flags, the rest is the text (byte 0 >=
// 0xF0: a synthetic vocabulary instead, see fuzz_synthetic).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "core/utf8.h"

namespace {

struct Vocab {
    const char* name;
    bool spells_every_byte;  // round trip is exact for every input
    std::unique_ptr<hearth::Tokenizer> tok;
};

std::string shared_dir() {
    if (const char* env = std::getenv("HEARTH_SHARED")) return env;
    std::string here = __FILE__;  // <root>/tests/fuzz/fuzz_tokenizer.cpp -> <root>/../shared
    here.resize(here.rfind("/tests/fuzz/"));
    return here + "/../shared";
}

std::vector<Vocab>& vocabs() {
    static std::vector<Vocab> v = [] {
        std::vector<Vocab> out;
        for (auto [name, exact] :
             {std::pair{"llama-spm", true}, std::pair{"gpt-2", true}, std::pair{"deepseek-llm", false},
              std::pair{"phi-3", false}, std::pair{"bert-bge", false}, std::pair{"falcon", false}}) {
            const auto file = hearth::gguf::File::open(shared_dir() + "/vocab/ggml-vocab-" + name + ".gguf");
            out.push_back(Vocab{name, exact, hearth::Tokenizer::from_gguf(*file)});
        }
        return out;
    }();
    return v;
}

// Byte 0 >= 0xF0: the rest describes a small synthetic vocabulary instead (tokens separated by
// NUL bytes, each token's first byte choosing its type), loaded with each tokenizer model; loading
// may throw hearth::Error, encoding and decoding must not fail at all.
void fuzz_synthetic(const uint8_t* data, size_t size) {
    std::vector<std::string> tokens;
    std::vector<int64_t> types;
    std::vector<double> scores;
    std::string cur;
    for (size_t i = 2; i < size && tokens.size() < 64; ++i) {
        if (data[i] != 0) {
            cur += static_cast<char>(data[i]);
            continue;
        }
        types.push_back(cur.empty() ? 1 : static_cast<uint8_t>(cur[0]) % 7);
        scores.push_back(-static_cast<double>(tokens.size()));
        tokens.push_back(cur);
        cur.clear();
    }
    if (tokens.empty()) return;
    std::vector<std::string> merges;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) merges.push_back(tokens[i] + " " + tokens[i + 1]);
    for (const char* model : {"llama", "gpt2", "bert"}) {
        hearth::gguf::Writer w;
        w.set("tokenizer.ggml.model", hearth::gguf::Value::str(model));
        w.set("tokenizer.ggml.tokens", hearth::gguf::Value::string_array(tokens));
        w.set("tokenizer.ggml.scores", hearth::gguf::Value::float_array(scores));
        w.set("tokenizer.ggml.token_type",
              hearth::gguf::Value::int_array(hearth::gguf::ValueType::Int32, types));
        w.set("tokenizer.ggml.merges", hearth::gguf::Value::string_array(merges));
        w.set("tokenizer.ggml.bos_token_id", hearth::gguf::Value::u32(data[1] % tokens.size()));
        w.set("tokenizer.ggml.unknown_token_id", hearth::gguf::Value::u32(0));
        std::unique_ptr<hearth::Tokenizer> tok;
        try {
            const auto bytes = w.to_bytes();
            const auto file = hearth::gguf::File::from_memory(bytes.data(), bytes.size());
            tok = hearth::Tokenizer::from_gguf(*file);
        } catch (const hearth::Error&) {
            continue;
        }
        std::string text;
        for (const auto& t : tokens) text += t + " ";
        for (bool parse : {false, true}) {
            const auto ids = tok->encode(text, true, parse);
            for (int32_t id : ids) {
                if (id < 0 || id >= tok->n_vocab()) std::abort();
            }
            (void)tok->decode(ids, parse);
        }
        for (int32_t id = -1; id <= tok->n_vocab(); ++id) (void)tok->token_to_piece(id, true);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    if (data[0] >= 0xF0) {
        fuzz_synthetic(data, size);
        return 0;
    }
    auto& all = vocabs();
    Vocab& v = all[data[0] % all.size()];
    const bool add_special = data[1] & 1, parse_special = data[1] & 2;
    const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);

    const std::vector<int32_t> ids = v.tok->encode(text, add_special, parse_special);
    for (int32_t id : ids) {
        if (id < 0 || id >= v.tok->n_vocab()) {
            std::fprintf(stderr, "%s: id %d out of range\n", v.name, id);
            std::abort();
        }
    }
    const std::string back = v.tok->decode(ids, data[1] & 4);
    // SentencePiece writes spaces as U+2581, so a literal U+2581 in the input decodes as a space.
    const bool has_spm_space = text.find("\xE2\x96\x81") != std::string::npos;
    if (v.spells_every_byte && !add_special && !parse_special &&
        !(v.tok->kind() == hearth::TokenizerKind::Spm && has_spm_space)) {
        if (back != hearth::utf8::sanitize(text)) {
            std::fprintf(stderr, "%s: round trip mismatch\n", v.name);
            std::abort();
        }
    }
    return 0;
}
