// Byte-level BPE (GPT-2 style) support: the reversible byte <-> printable code point mapping that
// byte-level vocabularies are written in, and the merge table keyed by token-id pairs.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace hearth {

// GPT-2 byte-level alphabet: bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for themselves; the
// other 68 bytes map, in increasing byte order, to U+0100, U+0101, ... (so ' ' is U+0120 'Ġ').
uint32_t bpe_byte_to_codepoint(uint8_t byte);
// Inverse mapping; -1 when cp is not in the byte-level alphabet.
int bpe_codepoint_to_byte(uint32_t cp);
// UTF-8 text of the byte-level characters for raw bytes (e.g. " hi" -> "Ġhi").
std::string bpe_bytes_to_text(std::string_view bytes);

// Merge rules "left right" (tokenizer.ggml.merges, earlier = higher priority) as
// (left id, right id) -> (rank, merged id).
struct BpeMerge {
    int32_t rank;
    int32_t result;
};

class BpeMerges {
  public:
    void add(int32_t left, int32_t right, int32_t rank, int32_t result);
    const BpeMerge* find(int32_t left, int32_t right) const {
        auto it = table_.find(key(left, right));
        return it == table_.end() ? nullptr : &it->second;
    }
    size_t size() const { return table_.size(); }

  private:
    static uint64_t key(int32_t l, int32_t r) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
    }
    std::unordered_map<uint64_t, BpeMerge> table_;
};

}  // namespace hearth
