// Embedder: packs inputs into batches (one sequence id each), decodes them with an embeddings-only
// context, gathers the hidden rows the pooling needs, pools and normalises. The KV cache is cleared
// before every batch, so sequences never see each other or earlier requests.
#include "runtime/embedding.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "model/arch.h"
#include "model/model.h"
#include "runtime/batch.h"
#include "runtime/runtime_context.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

struct Embedder::Pending {
    size_t input;   // index into embed()'s inputs
    size_t first;   // batch index of its first token
    size_t n;       // its tokens
};

namespace {

// Which tokens of a sequence of n tokens the pooling reads: [lo, hi). Rank reads the CLS row of an
// encoder and the last row of a causal model.
std::pair<size_t, size_t> wanted_rows(PoolingType p, bool causal, size_t n) {
    if (p == PoolingType::Cls || (p == PoolingType::Rank && !causal)) return {0, 1};
    if (p == PoolingType::Last || p == PoolingType::Rank) return {n - 1, n};
    return {0, n};
}

}  // namespace

Embedder::Embedder(const Model& model, const EmbedParams& params) : model_(model), params_(params) {
    pooling_ = params.pooling;
    if (pooling_ == PoolingType::Unspecified) pooling_ = file_pooling(model.file(), model.architecture());
    if (pooling_ == PoolingType::Unspecified) pooling_ = model.arch().causal ? PoolingType::Last : PoolingType::Mean;
    if (pooling_ == PoolingType::Rank) head_ = std::make_unique<RankHead>(RankHead::for_model(model));
    if (params_.n_seq_max < 1) throw Error(ErrorKind::InvalidArgument, "embedder: n_seq_max must be >= 1");
    ContextParams cp;
    cp.n_ctx = params.n_ctx;
    cp.n_batch = params.n_batch;
    cp.n_ubatch = params.n_ubatch;
    cp.n_threads = params.n_threads;
    cp.n_seq_max = params.n_seq_max;
    cp.embeddings = true;
    cp.embeddings_only = true;
    ctx_ = std::make_unique<runtime::Context>(model, cp);
    params_.n_ubatch = ctx_->params().n_ubatch;  // the context caps it at n_batch
}

Embedder::~Embedder() = default;

int64_t Embedder::n_embd() const { return model_.n_embd(); }

std::vector<int32_t> Embedder::tokenize(const std::string& text) const {
    return model_.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/true);
}

std::vector<float> Embedder::finish(std::vector<float> hidden, size_t n_rows) const {
    const size_t ne = size_t(model_.n_embd());
    if (pooling_ == PoolingType::None) return hidden;  // per-token rows, as llama-server: not normalised
    if (pooling_ == PoolingType::Rank) return head_->apply(hidden.data());  // logits: not normalised
    std::vector<float> v = pool(hidden.data(), n_rows, ne, pooling_);
    normalize(v.data(), v.size(), params_.normalize);
    return v;
}

std::vector<std::vector<float>> Embedder::embed(const std::vector<std::vector<int32_t>>& inputs,
                                                const std::vector<std::vector<int32_t>>& types) {
    const bool causal = model_.arch().causal;
    if (!types.empty() && types.size() != inputs.size())
        throw Error(ErrorKind::InvalidArgument, "embed: " + std::to_string(types.size()) + " token-type sequences for " +
                                                    std::to_string(inputs.size()) + " inputs");
    // Tokens packed into one batch: also bounded by the KV cells all its sequences share.
    const size_t cap = std::min(size_t(causal ? params_.n_batch : params_.n_ubatch), size_t(ctx_->n_ctx()));
    const int64_t n_vocab = model_.n_vocab();
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& t = inputs[i];
        if (t.empty()) throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + " is empty (no tokens)");
        if (!types.empty() && types[i].size() != t.size())
            throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + ": " + std::to_string(types[i].size()) +
                                                        " token types for " + std::to_string(t.size()) + " tokens");
        if (!causal && t.size() > size_t(params_.n_ubatch))
            throw Error(ErrorKind::InvalidArgument,
                        "input " + std::to_string(i) + " has " + std::to_string(t.size()) + " tokens, more than the ubatch size -ub " +
                            std::to_string(params_.n_ubatch) + "; a non-causal model needs the whole input in one ubatch (raise -ub)");
        if (const TensorRef& pe = model_.weights().pos_embd; pe && int64_t(t.size()) > pe.ne[1])  // absolute positions (bert)
            throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + " has " + std::to_string(t.size()) +
                                                        " tokens, more than the model's " + std::to_string(pe.ne[1]) + " positions");
        if (int64_t(t.size()) > ctx_->n_ctx())
            throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + " has " + std::to_string(t.size()) +
                                                        " tokens, more than the context size " + std::to_string(ctx_->n_ctx()));
        for (int32_t id : t)
            if (id < 0 || id >= n_vocab)
                throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + ": token id " + std::to_string(id) +
                                                            " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
    }

    std::vector<std::vector<float>> out(inputs.size());
    std::vector<Pending> pending;
    size_t used = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const size_t n = inputs[i].size();
        if (n > cap) {  // causal only: decoded alone, over several decode calls
            flush(inputs, types, pending, out);
            used = 0;
            if (!types.empty()) throw Error(ErrorKind::InvalidArgument, "input " + std::to_string(i) + ": token types need the whole input in one batch (-b)");
            embed_long(inputs[i], out[i]);
            continue;
        }
        if (used + n > cap || pending.size() == size_t(params_.n_seq_max)) {
            flush(inputs, types, pending, out);
            used = 0;
        }
        pending.push_back({i, used, n});
        used += n;
    }
    flush(inputs, types, pending, out);
    return out;
}

std::vector<float> Embedder::rank(const std::string& query, const std::vector<std::string>& documents, size_t* n_tokens) {
    if (pooling_ != PoolingType::Rank)
        throw Error(ErrorKind::InvalidArgument, std::string("reranking needs pooling 'rank' (this embedder pools '") + pooling_name(pooling_) + "')");
    std::vector<std::vector<int32_t>> tokens, types;
    size_t total = 0;
    for (const std::string& d : documents) {
        RankPair p = tokenize_pair(model_, query, d, head_->yes_no());
        total += p.tokens.size();
        tokens.push_back(std::move(p.tokens));
        types.push_back(std::move(p.types));
    }
    if (n_tokens) *n_tokens = total;
    const std::vector<std::vector<float>> logits = embed(tokens, types);
    std::vector<float> scores;
    for (const auto& l : logits) scores.push_back(l.at(0));
    return scores;
}

void Embedder::flush(const std::vector<std::vector<int32_t>>& inputs, const std::vector<std::vector<int32_t>>& types,
                     std::vector<Pending>& pending, std::vector<std::vector<float>>& out) {
    if (pending.empty()) return;
    // pending[k] is decoded as sequence id k at positions 0..n-1.
    const bool causal = model_.arch().causal;
    Batch b;
    for (size_t k = 0; k < pending.size(); ++k) {
        const Pending& p = pending[k];
        const auto [lo, hi] = wanted_rows(pooling_, causal, p.n);
        for (size_t j = 0; j < p.n; ++j) b.add(inputs[p.input][j], int32_t(j), int32_t(k), j >= lo && j < hi);
        if (!types.empty()) b.types.insert(b.types.end(), types[p.input].begin(), types[p.input].end());
    }
    ctx_->kv_clear();
    ctx_->decode(b);
    const size_t ne = size_t(model_.n_embd());
    for (const Pending& p : pending) {
        const auto [lo, hi] = wanted_rows(pooling_, causal, p.n);
        std::vector<float> hidden((hi - lo) * ne);
        for (size_t j = lo; j < hi; ++j) std::copy_n(ctx_->embeddings(p.first + j), ne, hidden.data() + (j - lo) * ne);
        out[p.input] = finish(std::move(hidden), hi - lo);
    }
    pending.clear();
}

void Embedder::embed_long(const std::vector<int32_t>& tokens, std::vector<float>& out) {
    const size_t n = tokens.size(), ne = size_t(model_.n_embd()), step = size_t(params_.n_batch);
    const auto [lo, hi] = wanted_rows(pooling_, model_.arch().causal, n);
    std::vector<float> hidden((hi - lo) * ne);
    ctx_->kv_clear();
    for (size_t c0 = 0; c0 < n; c0 += step) {
        const size_t c1 = std::min(n, c0 + step);
        Batch b;
        for (size_t j = c0; j < c1; ++j) b.add(tokens[j], int32_t(j), 0, j >= lo && j < hi);
        ctx_->decode(b);
        for (size_t j = std::max(c0, lo); j < std::min(c1, hi); ++j)
            std::copy_n(ctx_->embeddings(j - c0), ne, hidden.data() + (j - lo) * ne);
    }
    ctx_->kv_clear();
    out = finish(std::move(hidden), hi - lo);
}

}  // namespace hearth
