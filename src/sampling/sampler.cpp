// The sampler chain: each stage narrows or reshapes a candidate list of (token, logit), then a
// greedy or seeded random pick. Penalties and logit bias always act first, on the whole vocabulary;
// the truncating stages and temperature then run in SamplerParams::order.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/error.h"

namespace hearth {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

Sampler::Sampler(const SamplerParams& params, int32_t n_vocab) : params_(params), n_vocab_(n_vocab) {
    if (n_vocab <= 0) throw Error(ErrorKind::InvalidArgument, "sampler: n_vocab must be positive");
    if (!(params.top_p >= 0.0f) || !(params.min_p >= 0.0f) || !(params.typical_p >= 0.0f))
        throw Error(ErrorKind::InvalidArgument, "sampler: top_p, min_p and typical_p must be >= 0");
    if (!std::isfinite(params.temperature))
        throw Error(ErrorKind::InvalidArgument, "sampler: temperature must be a finite number");
    if (!(params.repeat_penalty > 0.0f))
        throw Error(ErrorKind::InvalidArgument, "sampler: repeat_penalty must be > 0");
    for (const auto& [id, bias] : params.logit_bias)
        if (id < 0 || id >= n_vocab)
            throw Error(ErrorKind::InvalidArgument,
                        "sampler: logit_bias token " + std::to_string(id) + " is outside the vocabulary (n_vocab " +
                            std::to_string(n_vocab) + ")");
    uint64_t seed = params.seed;
    if (seed == 0xFFFFFFFFu) seed = std::random_device{}();
    rng_.seed(seed);
}

void Sampler::accept(int32_t token) { history_.push_back(token); }

void Sampler::reset() { history_.clear(); }

void Sampler::apply_penalties(std::vector<Candidate>& cands) const {
    const bool active = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                        params_.frequency_penalty != 0.0f;
    if (!active || history_.empty() || params_.penalty_last_n == 0) return;
    size_t window = history_.size();
    if (params_.penalty_last_n > 0) window = std::min(window, static_cast<size_t>(params_.penalty_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history_.size() - window; i < history_.size(); ++i) ++counts[history_[i]];
    // cands is indexed by token id here (the penalty stage runs on the full, unsorted list or on a
    // subset): look tokens up by id.
    for (auto& c : cands) {
        auto it = counts.find(c.id);
        if (it == counts.end()) continue;
        if (c.logit > 0) c.logit /= params_.repeat_penalty;
        else c.logit *= params_.repeat_penalty;
        c.logit -= static_cast<float>(it->second) * params_.frequency_penalty + params_.presence_penalty;
    }
}

void Sampler::apply_logit_bias(std::vector<Candidate>& cands) const {
    if (params_.logit_bias.empty()) return;
    std::unordered_map<int32_t, float> bias;
    for (const auto& [id, b] : params_.logit_bias) bias[id] += b;
    for (auto& c : cands) {
        auto it = bias.find(c.id);
        if (it != bias.end()) c.logit += it->second;
    }
}

namespace {

// Sorts by logit descending (ties: lower id first) and sets p to the softmax over the list.
void softmax_sorted(std::vector<Sampler::Candidate>& c);

}  // namespace

int32_t Sampler::sample(const float* logits) {
    cands_.resize(static_cast<size_t>(n_vocab_));
    for (int32_t i = 0; i < n_vocab_; ++i) {
        const float l = logits[i];
        cands_[static_cast<size_t>(i)] = {i, std::isnan(l) ? kNegInf : l, 0.0f};
    }
    const bool greedy = params_.temperature <= 0.0f;
    for (SamplerStage stage : params_.order) {
        switch (stage) {
            case SamplerStage::Penalties: apply_penalties(cands_); break;
            case SamplerStage::LogitBias: apply_logit_bias(cands_); break;
            default: break;
        }
    }
    if (greedy) {
        // argmax after penalties and bias; ties resolve to the lowest id
        size_t best = 0;
        for (size_t i = 1; i < cands_.size(); ++i)
            if (cands_[i].logit > cands_[best].logit) best = i;
        return cands_[best].id;
    }
    // Drop banned tokens (-inf) before the truncating stages.
    cands_.erase(std::remove_if(cands_.begin(), cands_.end(), [](const Candidate& c) { return c.logit == kNegInf; }),
                 cands_.end());
    if (cands_.empty()) throw Error(ErrorKind::InvalidArgument, "sampler: every token is banned by logit_bias");
    softmax_sorted(cands_);
    for (SamplerStage stage : params_.order) {
        switch (stage) {
            case SamplerStage::TopK:
                if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < cands_.size())
                    cands_.resize(static_cast<size_t>(params_.top_k));
                break;
            case SamplerStage::TopP:
                if (params_.top_p < 1.0f) {
                    softmax_sorted(cands_);
                    double cum = 0.0;
                    size_t keep = cands_.size();
                    for (size_t i = 0; i < cands_.size(); ++i) {
                        cum += cands_[i].p;
                        if (cum >= params_.top_p) {
                            keep = i + 1;
                            break;
                        }
                    }
                    cands_.resize(keep);
                }
                break;
            case SamplerStage::MinP:
                if (params_.min_p > 0.0f) {
                    const float threshold = cands_.front().logit + std::log(params_.min_p);
                    size_t keep = 1;
                    while (keep < cands_.size() && cands_[keep].logit >= threshold) ++keep;
                    cands_.resize(keep);
                }
                break;
            case SamplerStage::Typical:
                if (params_.typical_p < 1.0f && cands_.size() > 1) {
                    softmax_sorted(cands_);
                    // Locally typical sampling: keep tokens whose surprise is closest to the entropy
                    // until their mass reaches typical_p.
                    double entropy = 0.0;
                    for (const auto& c : cands_)
                        if (c.p > 0) entropy -= c.p * std::log(c.p);
                    std::vector<std::pair<double, size_t>> order(cands_.size());
                    for (size_t i = 0; i < cands_.size(); ++i)
                        order[i] = {std::fabs(-std::log(std::max(cands_[i].p, 1e-30f)) - entropy), i};
                    std::stable_sort(order.begin(), order.end(),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
                    std::vector<Candidate> kept;
                    double cum = 0.0;
                    for (const auto& [dist, idx] : order) {
                        kept.push_back(cands_[idx]);
                        cum += cands_[idx].p;
                        if (cum >= params_.typical_p) break;
                    }
                    cands_ = std::move(kept);
                    softmax_sorted(cands_);
                }
                break;
            case SamplerStage::Temperature:
                for (auto& c : cands_) c.logit /= params_.temperature;
                break;
            default: break;
        }
    }
    softmax_sorted(cands_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const double r = uniform(rng_);
    double cum = 0.0;
    for (const auto& c : cands_) {
        cum += c.p;
        if (r < cum) return c.id;
    }
    return cands_.back().id;
}

namespace {

void softmax_sorted(std::vector<Sampler::Candidate>& c) {
    std::sort(c.begin(), c.end(), [](const Sampler::Candidate& a, const Sampler::Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
    if (c.empty()) return;
    const float max_logit = c.front().logit;
    double sum = 0.0;
    for (auto& x : c) {
        x.p = std::exp(x.logit - max_logit);
        sum += x.p;
    }
    for (auto& x : c) x.p = static_cast<float>(x.p / sum);
}

}  // namespace

std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n_vocab, int32_t k) {
    if (n_vocab <= 0) return {};
    float max_logit = kNegInf;
    for (int32_t i = 0; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
    const double log_z = max_logit + std::log(sum);
    k = std::clamp(k, 0, n_vocab);
    std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
    for (int32_t i = 0; i < n_vocab; ++i) ids[static_cast<size_t>(i)] = i;
    auto better = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), better);
    std::vector<TokenLogprob> out;
    out.reserve(static_cast<size_t>(k));
    for (int32_t i = 0; i < k; ++i) out.push_back({ids[i], static_cast<float>(logits[ids[i]] - log_z)});
    return out;
}

float token_logprob(const float* logits, int32_t n_vocab, int32_t token) {
    HEARTH_ASSERT(token >= 0 && token < n_vocab);
    float max_logit = kNegInf;
    for (int32_t i = 0; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
    return static_cast<float>(logits[token] - (max_logit + std::log(sum)));
}

}  // namespace hearth
