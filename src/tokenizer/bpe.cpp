// Byte-level BPE encoding: pre-tokenize with the model's regexes, map each pre-token's bytes to
// their byte-level tokens, then repeatedly merge the adjacent pair with the lowest merge rank
// (leftmost first on ties) using a priority queue with lazy invalidation: O(n log n) per word.
#include "tokenizer/bpe.h"

#include <array>
#include <queue>

#include "core/utf8.h"
#include "tokenizer/vocab.h"

namespace hearth {

namespace {

struct ByteMap {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 324> from_cp{};  // code points < 324 only (0x143 is the largest mapped)
    ByteMap() {
        from_cp.fill(-1);
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
            from_cp[to_cp[b]] = static_cast<int16_t>(b);
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap map;
    return map;
}

}  // namespace

uint32_t bpe_byte_to_codepoint(uint8_t byte) {
    return byte_map().to_cp[byte];
}

int bpe_codepoint_to_byte(uint32_t cp) {
    return cp < byte_map().from_cp.size() ? byte_map().from_cp[cp] : -1;
}

std::string bpe_bytes_to_text(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) utf8::append(out, bpe_byte_to_codepoint(static_cast<uint8_t>(c)));
    return out;
}

void BpeMerges::add(int32_t left, int32_t right, int32_t rank, int32_t result) {
    table_.try_emplace(key(left, right), BpeMerge{rank, result});  // the first (best) rank wins
}

namespace {

// One symbol of the word being merged: a run of bytes [start, start+len) that is token `id`.
struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    uint32_t len;  // 0 once merged into its left neighbour
};

struct Candidate {
    int32_t rank;
    int32_t left;  // index of the left symbol
    int32_t left_id;
    int32_t right_id;
    bool operator<(const Candidate& o) const {  // std::priority_queue pops the largest
        if (rank != o.rank) return rank > o.rank;
        return left > o.left;
    }
};

void merge_word(const Tokenizer::Impl& v, std::string_view word, std::vector<int32_t>& out) {
    std::vector<Symbol> sym(word.size());
    const auto& byte_ids = v.byte_tokens;
    for (size_t i = 0; i < word.size(); ++i) {
        sym[i] = Symbol{byte_ids[static_cast<uint8_t>(word[i])], static_cast<int32_t>(i) - 1,
                        i + 1 < word.size() ? static_cast<int32_t>(i + 1) : -1, 1};
    }
    std::priority_queue<Candidate> queue;
    const auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = sym[left].next;
        if (right < 0 || sym[left].id < 0 || sym[right].id < 0) return;
        if (const BpeMerge* m = v.merges.find(sym[left].id, sym[right].id)) {
            queue.push(Candidate{m->rank, left, sym[left].id, sym[right].id});
        }
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);

    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& l = sym[c.left];
        // Stale when the left symbol was merged away or either side changed since the push.
        if (l.len == 0 || l.id != c.left_id || l.next < 0 || sym[l.next].id != c.right_id) continue;
        Symbol& r = sym[l.next];
        l.id = v.merges.find(c.left_id, c.right_id)->result;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = c.left;
        consider(l.prev);
        consider(c.left);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        if (sym[i].id >= 0) {
            out.push_back(sym[i].id);
        } else if (v.unk >= 0) {
            out.push_back(v.unk);  // a byte the vocabulary cannot spell
        }
    }
}

}  // namespace

void bpe_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
    std::vector<std::string_view> words;
    v.pretokenizer->split(text, words);
    for (std::string_view word : words) {
        if (word.empty()) continue;
        if (v.ignore_merges) {
            const int32_t id = v.lookup(bpe_bytes_to_text(word));
            if (id >= 0) {
                out.push_back(id);
                continue;
            }
        }
        merge_word(v, word, out);
    }
}

}  // namespace hearth
