// The embedder: turns token sequences into pooled, normalised vectors with an embeddings-only
// runtime Context (no LM head). Packs several sequences into one batch; causal models take inputs
// longer than a batch over several decodes, non-causal ones (bert) need each input in one ubatch.
// With pooling "rank" (rerankers) each input is a query/document pair and its result is the rank
// head's logits (runtime/rank_head.h) instead of a vector.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/pooling.h"
#include "runtime/rank_head.h"

namespace hearth {

class Model;
namespace runtime {
class Context;
}

struct EmbedParams {
    PoolingType pooling = PoolingType::Unspecified;  // Unspecified: the file's, else last (causal) / mean
    int normalize = 2;       // --embd-normalize (see pooling.h); applied to pooled vectors, not to None
    int n_batch = 2048;      // tokens per decode call
    int n_ubatch = 512;      // tokens per graph evaluation (-ub)
    int n_threads = 0;       // 0 = all cores
    int n_seq_max = 64;      // sequences packed into one batch (KvCache::kMaxSeq at most)
    int64_t n_ctx = 0;       // longest input; 0 = the model's trained context
};

class Embedder {
public:
    Embedder(const Model& model, const EmbedParams& params);
    ~Embedder();

    PoolingType pooling() const { return pooling_; }
    int64_t n_embd() const;
    // Tokens of a text as the model's tokenizer adds specials for it (BOS/EOS, CLS/SEP).
    std::vector<int32_t> tokenize(const std::string& text) const;
    // One vector per input: n_embd floats, or n_tokens * n_embd (row per token) for pooling None.
    // Throws Error(InvalidArgument) for an empty input, a bad token id, an input longer than the
    // context, or (non-causal models) an input longer than n_ubatch, naming -ub and the length.
    // types: empty, or one token-type sequence per input, as long as it (e.g. RankPair::types).
    // Pooling rank: each result is the rank head's n_out logits (not normalised).
    std::vector<std::vector<float>> embed(const std::vector<std::vector<int32_t>>& inputs,
                                          const std::vector<std::vector<int32_t>>& types = {});
    // Pooling rank only (else Error(InvalidArgument)): the relevance score (logit 0) of each
    // (query, documents[i]) pair; pairs are packed into as few forward passes as fit (n_seq_max
    // sequences, n_ubatch tokens each). n_tokens (optional) receives the tokens evaluated.
    std::vector<float> rank(const std::string& query, const std::vector<std::string>& documents, size_t* n_tokens = nullptr);
    const RankHead* rank_head() const { return head_.get(); }

private:
    struct Pending;
    void flush(const std::vector<std::vector<int32_t>>& inputs, const std::vector<std::vector<int32_t>>& types,
               std::vector<Pending>& pending, std::vector<std::vector<float>>& out);
    void embed_long(const std::vector<int32_t>& tokens, std::vector<float>& out);
    std::vector<float> finish(std::vector<float> hidden, size_t n_tokens) const;

    const Model& model_;
    EmbedParams params_;
    PoolingType pooling_;
    std::unique_ptr<runtime::Context> ctx_;
    std::unique_ptr<RankHead> head_;  // pooling rank only
};

}  // namespace hearth
