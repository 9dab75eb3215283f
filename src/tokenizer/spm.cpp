// SentencePiece-style encoding driven by token scores ("llama" vocabularies: LLaMA, Gemma, Phi-3):
// the text (spaces already escaped to U+2581) starts as one symbol per code point; the adjacent
// pair whose concatenation is the highest-scoring vocabulary entry is merged first (leftmost on
// ties), via a priority queue with lazy invalidation. Symbols left that are not vocabulary
// entries are spelled with <0xXX> byte tokens (or <unk> when those are missing).
#include <algorithm>
#include <queue>

#include "core/utf8.h"
#include "tokenizer/vocab.h"

namespace hearth {

namespace {

// A run of bytes [start, start + len) of the text; len == 0 once merged into its left neighbour.
struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t start;
    uint32_t len;
};

struct Bigram {
    float score;
    int32_t left;  // index of the left symbol
    uint32_t len;  // combined length when pushed (detects stale entries)
    int32_t id;
    bool operator<(const Bigram& o) const {  // std::priority_queue pops the largest
        if (score != o.score) return score < o.score;
        return left > o.left;
    }
};

// Token types that text may merge into. Control / unknown / unused entries (<s>, <unk>, padding)
// are never produced from plain text.
bool mergeable(TokenType t) {
    return t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Undefined;
}

// Encodes one segment with the merge loop.
void encode_segment(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
    if (text.empty()) return;
    std::vector<Symbol> sym;
    sym.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t len = utf8::valid_length(text, i);
        if (len == 0) len = 1;  // cannot happen after sanitize(); stay safe anyway
        const auto idx = static_cast<int32_t>(sym.size());
        sym.push_back(Symbol{idx - 1, idx + 1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
        i += len;
    }
    sym.back().next = -1;

    std::priority_queue<Bigram> queue;
    const auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = sym[left].next;
        if (right < 0) return;
        const uint32_t len = sym[left].len + sym[right].len;
        const int32_t id = v.lookup(text.substr(sym[left].start, len));
        if (id < 0 || !mergeable(v.types[id])) return;
        queue.push(Bigram{v.scores[id], left, len, id});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = sym[b.left];
        if (l.len == 0 || l.next < 0 || l.len + sym[l.next].len != b.len) continue;  // stale
        Symbol& r = sym[l.next];
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = b.left;
        consider(l.prev);
        consider(b.left);
    }

    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        const std::string_view piece = text.substr(sym[i].start, sym[i].len);
        const int32_t id = v.lookup(piece);
        if (id >= 0 && mergeable(v.types[id])) {
            out.push_back(id);
            continue;
        }
        for (char c : piece) {  // byte fallback
            const int32_t byte_id = v.byte_tokens[static_cast<uint8_t>(c)];
            if (byte_id >= 0) {
                out.push_back(byte_id);
            } else if (v.unk >= 0) {
                out.push_back(v.unk);
            }
        }
    }
}

}  // namespace

// Merges are local: a symbol spanning the boundary between characters a and b would be a token
// containing "ab". Before each U+2581 whose preceding character never precedes U+2581 inside a
// token, no merge can cross, so the text is cut there and each segment (typically one word) is
// merged on its own with a small, cache-resident queue. The result is identical to merging the
// whole text at once.
void spm_encode(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
    constexpr std::string_view kSpace = "\xE2\x96\x81";
    size_t seg_start = 0;
    for (size_t pos = text.find(kSpace, 1); pos != std::string_view::npos; pos = text.find(kSpace, pos + 1)) {
        size_t prev = pos - 1;
        while (prev > 0 && (static_cast<uint8_t>(text[prev]) & 0xC0) == 0x80) --prev;
        if (utf8::valid_length(text, prev) != pos - prev) continue;
        size_t i = prev;
        const uint32_t cp = utf8::next(text, i);
        if (std::binary_search(v.spm_joins_space.begin(), v.spm_joins_space.end(), cp)) continue;
        encode_segment(v, text.substr(seg_start, pos - seg_start), out);
        seg_start = pos;
    }
    encode_segment(v, text.substr(seg_start), out);
}

}  // namespace hearth
