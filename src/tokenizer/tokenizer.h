// Public tokenizer API: text <-> token ids for the vocabularies stored in GGUF metadata
// (tokenizer.ggml.model "llama" = SentencePiece, "gpt2" = byte-level BPE, "bert" = WordPiece).
// A Tokenizer is immutable after from_gguf() and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

namespace gguf {
class File;
}

enum class TokenizerKind { Spm, Bpe, WordPiece };

// Per-token attribute, as GGUF's tokenizer.ggml.token_type stores it.
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

class Tokenizer {
  public:
    // Builds the tokenizer from a GGUF file's tokenizer.ggml.* keys. Throws
    // Error(InvalidFile) for missing/inconsistent keys and Error(Unsupported) for an unknown
    // tokenizer.ggml.model; the message names the key.
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
    virtual ~Tokenizer();

    // add_special: add BOS/EOS (CLS/SEP for WordPiece) as the metadata says.
    // parse_special: recognise control (and unknown-type) token texts in the input, leftmost-
    // longest match; when false those texts are tokenized as ordinary text. User-defined tokens
    // (HF "added tokens" that are not special, e.g. Gemma's and MPT's whitespace runs, Phi-3's
    // "</s>") are matched either way, as SentencePiece, Hugging Face and llama.cpp do; the
    // reference tokenizations require it.
    // Invalid UTF-8 in `text` never throws: each invalid byte is treated as U+FFFD (the
    // replacement character), so decode(encode(x)) == x exactly for valid UTF-8 input only; SPM
    // exceptions: a literal U+2581 in x decodes as a space (SentencePiece's space marker), and
    // after a special token matched in x the next text gets a space prefix (llama.cpp behaviour).
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // Bytes of one token: byte-fallback <0xXX> tokens give that byte, SPM "▁" gives a space,
    // byte-level BPE tokens are mapped back to raw bytes. Control tokens give "" unless
    // render_special. Out-of-range ids give "" (never throw).
    std::string token_to_piece(int32_t id, bool render_special = false) const;
    // Concatenated pieces; the one leading space encode() introduced (SPM with add_space_prefix,
    // WordPiece's word-initial marker) is removed from the first token after an optional BOS.
    std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

    int32_t n_vocab() const;
    int32_t bos() const;  // -1 when none
    int32_t eos() const;  // -1 when none
    int32_t eot() const;  // -1 when none
    int32_t unk() const;  // -1 when none
    int32_t sep() const;  // -1 when none
    int32_t pad() const;  // -1 when none
    int32_t cls() const;  // -1 when none (WordPiece: equals bos)
    // What encode(..., add_special = true) adds: tokenizer.ggml.add_bos_token (default: true for
    // SPM and WordPiece, false for BPE) and add_eos_token (default false; WordPiece: add_sep_token,
    // default true, appends SEP).
    bool add_bos() const;
    bool add_eos() const;
    TokenizerKind kind() const;
    const std::string& pre() const;  // tokenizer.ggml.pre ("" when absent)

    // End of generation: eos, eot, and other tokens that end a turn (<|im_end|>, <end_of_turn>,
    // <|eot_id|>, <|endoftext|>, ...).
    bool is_eog(int32_t id) const;
    bool is_control(int32_t id) const;  // Control token type (false for out-of-range ids)
    TokenType token_type(int32_t id) const;
    float token_score(int32_t id) const;
    std::optional<int32_t> find_token(std::string_view text) const;  // exact vocabulary text
    const std::string& token_text(int32_t id) const;  // raw vocabulary text; "" when out of range

    struct Impl;

  private:
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace hearth
