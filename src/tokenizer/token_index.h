// Exact text -> token id lookup for a vocabulary: an open-addressing hash table (linear probing,
// power-of-two capacity, 32-bit hash tags) over the vocabulary's own strings. The SPM merge loop
// does one lookup per candidate pair, so this is the tokenizers' hottest data structure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class TokenIndex {
  public:
    // Indexes texts[0..n); on duplicate texts the highest id wins. `texts` must outlive the
    // index and not be modified afterwards.
    void build(const std::vector<std::string>& texts);
    // -1 when no token has exactly this text.
    int32_t find(std::string_view text) const;
    size_t max_length() const { return max_length_; }

  private:
    struct Slot {
        uint32_t tag;  // high half of the hash
        int32_t id;    // -1: empty
    };
    static uint64_t hash(std::string_view s);

    const std::vector<std::string>* texts_ = nullptr;
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
    size_t max_length_ = 0;
};

}  // namespace hearth
