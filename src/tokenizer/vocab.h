// Internal state of a Tokenizer (Tokenizer::Impl): the vocabulary loaded from GGUF, the lookup
// tables every algorithm shares, and the per-algorithm tables (SPM byte fallback, BPE merges,
// pre-tokenizer regexes). Only src/tokenizer/*.cpp include this header.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/token_index.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

struct Tokenizer::Impl {
    TokenizerKind kind = TokenizerKind::Spm;
    std::string pre;  // tokenizer.ggml.pre

    // Vocabulary, indexed by token id: [n_vocab] each.
    std::vector<std::string> texts;
    std::vector<float> scores;
    std::vector<TokenType> types;
    // Exact text -> id over `texts` (never modified after loading); on duplicates the highest id wins.
    TokenIndex text_to_id;

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, cls = -1, mask = -1;
    bool add_bos = false;
    bool add_eos = false;           // WordPiece: add SEP
    bool add_space_prefix = false;  // SPM: prepend " " before the first text fragment
    std::vector<uint8_t> eog;       // [n_vocab] 1 = ends generation

    SpecialTokenMatcher specials;  // control / user-defined / unknown texts

    // SPM: id of the <0xXX> token for each byte, -1 where the vocabulary lacks it.
    // BPE: id of each byte's byte-level character token.
    std::array<int32_t, 256> byte_tokens{};
    // SPM: sorted code points that some token has immediately before a U+2581 (e.g. U+2581 itself
    // in "▁▁"). Before any other character a U+2581 starts a segment no merge can cross.
    std::vector<uint32_t> spm_joins_space;

    // BPE: merge ranks and pre-tokenizer.
    BpeMerges merges;
    std::unique_ptr<PreTokenizer> pretokenizer;
    bool ignore_merges = false;  // llama3: a pre-token that is a whole vocabulary entry is emitted as is

    int32_t n_vocab() const { return static_cast<int32_t>(texts.size()); }
    bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
    int32_t lookup(std::string_view text) const { return text_to_id.find(text); }
};

// Encoders for one text fragment (no special tokens inside); they append ids to `out`.
// `text` is valid UTF-8.
void spm_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out);
void bpe_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out);
void wordpiece_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out);

}  // namespace hearth
