// The embedder: turns token sequences into pooled, normalised vectors with an embeddings-only
// runtime Context (no LM head). Packs several sequences into one batch; causal models take inputs
// longer than a batch over several decodes, non-causal ones (bert) need each input in one ubatch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/pooling.h"

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
    int n_seq_max = 16;      // sequences packed into one batch
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
    std::vector<std::vector<float>> embed(const std::vector<std::vector<int32_t>>& inputs);

private:
    struct Pending;
    void flush(const std::vector<std::vector<int32_t>>& inputs, std::vector<Pending>& pending, std::vector<std::vector<float>>& out);
    void embed_long(const std::vector<int32_t>& tokens, std::vector<float>& out);
    std::vector<float> finish(std::vector<float> hidden, size_t n_tokens) const;

    const Model& model_;
    EmbedParams params_;
    PoolingType pooling_;
    std::unique_ptr<runtime::Context> ctx_;
};

}  // namespace hearth
