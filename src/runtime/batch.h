// A batch of tokens decoded together: tokens of one or more sequences, each with its position and
// sequence id, and a flag saying whether its logits are wanted. Context::decode() splits it into
// micro-batches (ubatches) itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth {

struct Batch {
    std::vector<int32_t> tokens;  // [n] token ids
    std::vector<int32_t> pos;     // [n] position of each token in its sequence
    std::vector<int32_t> seq;     // [n] sequence id (0 .. n_seq_max-1)
    std::vector<uint8_t> logits;  // [n] 1: compute logits for this token
    // [n] token type (segment) id, or empty: every token is type 0. Encoders with a token-type
    // table (bert cross-encoders) mark the second text of a pair with 1.
    std::vector<int32_t> types;

    void add(int32_t token, int32_t position, int32_t sequence, bool want_logits) {
        tokens.push_back(token);
        pos.push_back(position);
        seq.push_back(sequence);
        logits.push_back(want_logits ? 1 : 0);
    }
    void clear() {
        tokens.clear();
        pos.clear();
        seq.clear();
        logits.clear();
        types.clear();
    }
    size_t size() const { return tokens.size(); }
};

}  // namespace hearth
