// Special-token trie and leftmost-longest partitioning of input text (see special_tokens.h).
#include "tokenizer/special_tokens.h"

namespace hearth {

static uint64_t edge_key(int32_t node, uint8_t byte) {
    return (static_cast<uint64_t>(node) << 8) | byte;
}

void SpecialTokenMatcher::add(std::string_view text, int32_t id, bool always) {
    if (text.empty()) return;
    int32_t node = 0;
    for (char c : text) {
        const uint64_t key = edge_key(node, static_cast<uint8_t>(c));
        auto it = edges_.find(key);
        if (it == edges_.end()) {
            nodes_.push_back(Node{});
            const int32_t child = static_cast<int32_t>(nodes_.size() - 1);
            edges_.emplace(key, child);
            node = child;
        } else {
            node = it->second;
        }
    }
    // On duplicate texts the later id wins, like the vocabulary's text -> id map.
    if (nodes_[node].token < 0) n_tokens_++;
    nodes_[node].token = id;
    nodes_[node].always = always;
    first_byte_[static_cast<uint8_t>(text[0])] = 1;
}

size_t SpecialTokenMatcher::match_at(std::string_view text, size_t pos, bool parse_special,
                                     int32_t& id) const {
    size_t best = 0;
    int32_t node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
        auto it = edges_.find(edge_key(node, static_cast<uint8_t>(text[i])));
        if (it == edges_.end()) break;
        node = it->second;
        const Node& n = nodes_[node];
        if (n.token >= 0 && (parse_special || n.always)) {
            best = i + 1 - pos;
            id = n.token;
        }
    }
    return best;
}

void SpecialTokenMatcher::partition(std::string_view text, bool parse_special,
                                    std::vector<TextFragment>& out) const {
    size_t raw_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        int32_t id = -1;
        const size_t len =
            first_byte_[static_cast<uint8_t>(text[pos])] ? match_at(text, pos, parse_special, id) : 0;
        if (len == 0) {
            ++pos;
            continue;
        }
        if (pos > raw_start) out.push_back({-1, text.substr(raw_start, pos - raw_start)});
        out.push_back({id, text.substr(pos, len)});
        pos += len;
        raw_start = pos;
    }
    if (raw_start < text.size()) out.push_back({-1, text.substr(raw_start)});
}

}  // namespace hearth
