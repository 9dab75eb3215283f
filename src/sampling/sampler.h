// Token sampling: a configurable chain of logit transforms (penalties, logit bias, top-k, typical,
// top-p, min-p, temperature) ending in a greedy or seeded random pick, plus log-probability helpers
// for `--n-probs` and the server's `logprobs`.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hearth {

enum class SamplerStage { Penalties, LogitBias, TopK, Typical, TopP, MinP, Temperature };

struct SamplerParams {
    float temperature = 0.8f;  // <= 0: greedy (argmax after penalties and bias)
    int32_t top_k = 40;        // <= 0: off
    float top_p = 0.95f;       // >= 1: off
    float min_p = 0.05f;       // <= 0: off
    float typical_p = 1.0f;    // >= 1: off
    float repeat_penalty = 1.0f;     // 1: off; divides positive logits, multiplies negative ones
    float presence_penalty = 0.0f;   // subtracted once per token present in the window
    float frequency_penalty = 0.0f;  // subtracted per occurrence in the window
    int32_t penalty_last_n = 64;     // window of recent tokens the penalties look at (-1: all)
    std::vector<std::pair<int32_t, float>> logit_bias;  // added to the token's logit (-inf bans it)
    uint64_t seed = 0xFFFFFFFFu;     // 0xFFFFFFFF: random seed
    std::vector<SamplerStage> order = {SamplerStage::Penalties, SamplerStage::LogitBias, SamplerStage::TopK,
                                       SamplerStage::Typical,   SamplerStage::TopP,      SamplerStage::MinP,
                                       SamplerStage::Temperature};
};

struct TokenLogprob {
    int32_t id;
    float logprob;
};

class Sampler {
public:
    Sampler(const SamplerParams& params, int32_t n_vocab);

    // Picks the next token from raw logits (n_vocab floats). Does not record it: call accept().
    int32_t sample(const float* logits);
    // Records a token (prompt or generated) in the penalty window.
    void accept(int32_t token);
    void reset();  // clears the penalty history, keeps the RNG state

    const SamplerParams& params() const { return params_; }

    struct Candidate {
        int32_t id;
        float logit;
        float p;
    };

private:
    // Occurrences of each token in the penalty window; empty when no penalty is active.
    std::unordered_map<int32_t, int> penalty_counts() const;
    float penalized(float logit, int count) const;  // repeat, frequency and presence penalties
    std::map<int32_t, float> summed_bias() const;    // logit_bias with repeated tokens summed
    // The stages below act on the full candidate list, indexed by token id.
    void apply_penalties(std::vector<Candidate>& cands) const;
    void apply_logit_bias(std::vector<Candidate>& cands) const;
    // The tokens the penalty and bias stages change, with their new logits (NaN as -inf), by id.
    std::vector<std::pair<int32_t, float>> adjusted_logits(const float* logits) const;
    // Greedy pick straight from the logits (penalties and bias applied to the few tokens they touch).
    int32_t greedy_pick(const float* logits) const;
    // Fills cands_ with the k best finite candidates after penalties and bias, best first.
    void top_k_candidates(const float* logits, size_t k);
    // True when top-k > 0 is the first stage of the order that drops candidates or rescales them.
    bool first_truncation_is_top_k() const;

    SamplerParams params_;
    int32_t n_vocab_;
    std::vector<int32_t> history_;
    std::vector<Candidate> cands_;
    std::mt19937_64 rng_;
};

// log-softmax of raw logits: the top-k (id, logprob) pairs, highest first (ties: lower id first).
std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n_vocab, int32_t k);
// log-softmax value of one token.
float token_logprob(const float* logits, int32_t n_vocab, int32_t token);

}  // namespace hearth
