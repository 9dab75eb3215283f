// Regex pre-tokenization for byte-level BPE: the sequence of split patterns published in each
// model family's tokenizer.json, chosen by GGUF tokenizer.ggml.pre, run with PCRE2 (UTF + UCP,
// JIT when available). Each pattern splits every piece produced by the previous one; both the
// matches and the gaps between them are kept, so the pieces always concatenate to the input.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class PreTokenizer {
  public:
    // Throws Error(Unsupported) naming tokenizer.ggml.pre for an unknown name. An empty name or
    // "default" selects llama.cpp's default pattern set.
    static std::unique_ptr<PreTokenizer> for_name(const std::string& pre);
    // Throws Error(InvalidArgument) when a pattern does not compile.
    explicit PreTokenizer(const std::vector<std::string>& patterns);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    // Appends the pieces of `text` (valid UTF-8) to `out`; thread-safe.
    void split(std::string_view text, std::vector<std::string_view>& out) const;

    // Whether the llama3 "ignore_merges" rule applies to this pre-tokenizer name.
    static bool ignores_merges(const std::string& pre);

  private:
    struct Pattern;
    std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace hearth
