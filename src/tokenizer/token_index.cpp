// Open-addressing text -> id table (see token_index.h). The hash reads 8 bytes at a time and mixes
// with multiply/xor-shift steps; quality only needs to be good enough for linear probing.
#include "tokenizer/token_index.h"

#include <cstring>

#include "core/error.h"

namespace hearth {

namespace {

inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

}  // namespace

uint64_t TokenIndex::hash(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0x100000001B3ULL);
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = (h ^ mix(w)) * 0x9E3779B97F4A7C15ULL;
    }
    if (i < s.size()) {
        uint64_t w = 0;
        std::memcpy(&w, s.data() + i, s.size() - i);
        h = (h ^ mix(w + 1)) * 0x9E3779B97F4A7C15ULL;
    }
    return mix(h);
}

void TokenIndex::build(const std::vector<std::string>& texts) {
    texts_ = &texts;
    size_t capacity = 16;
    while (capacity < texts.size() * 2) capacity *= 2;
    slots_.assign(capacity, Slot{0, -1});
    mask_ = capacity - 1;
    max_length_ = 0;
    for (size_t id = 0; id < texts.size(); ++id) {
        const std::string& t = texts[id];
        if (t.size() > max_length_) max_length_ = t.size();
        const uint64_t h = hash(t);
        const auto tag = static_cast<uint32_t>(h >> 32);
        for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.id < 0) {
                s = Slot{tag, static_cast<int32_t>(id)};
                break;
            }
            if (s.tag == tag && texts[s.id] == t) {  // duplicate text: the later id wins
                s.id = static_cast<int32_t>(id);
                break;
            }
        }
    }
}

int32_t TokenIndex::find(std::string_view text) const {
    if (slots_.empty() || text.size() > max_length_) return -1;
    const uint64_t h = hash(text);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.id < 0) return -1;
        if (s.tag == tag && (*texts_)[s.id] == text) return s.id;
    }
}

}  // namespace hearth
