// Finds special-token texts (control, user-defined, unknown) inside input text and splits the
// text into fragments: raw text runs and matched token ids. Matching is leftmost-longest over a
// byte trie, so cost is O(text length x longest special text), independent of how many specials
// the vocabulary has (Gemma 3 has ~6400).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hearth {

struct TextFragment {
    int32_t token = -1;     // >= 0: this fragment is that special token
    std::string_view text;  // the fragment's bytes (for a token: the matched text)
};

class SpecialTokenMatcher {
  public:
    // always: matched even when parse_special is false (user-defined tokens, as in
    // SentencePiece / Hugging Face added tokens); otherwise only when parse_special is true.
    void add(std::string_view text, int32_t id, bool always);

    // Appends the fragments of `text` to `out` in order; consecutive raw bytes form one fragment.
    void partition(std::string_view text, bool parse_special, std::vector<TextFragment>& out) const;

    size_t size() const { return n_tokens_; }

  private:
    struct Node {
        int32_t token = -1;   // token ending here (-1: none)
        bool always = false;  // that token is matched without parse_special
    };
    // Longest allowed match starting at text[pos]; returns its length (0: none) and the id.
    size_t match_at(std::string_view text, size_t pos, bool parse_special, int32_t& id) const;

    std::vector<Node> nodes_{Node{}};              // node 0 is the root
    std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
    std::array<uint8_t, 256> first_byte_{};        // 1: some special text starts with this byte
    size_t n_tokens_ = 0;
};

}  // namespace hearth
