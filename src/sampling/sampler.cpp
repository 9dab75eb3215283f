// The sampler chain: each stage narrows or reshapes a candidate list of (token, logit), then a
// greedy or seeded random pick. Penalties and logit bias always act first, on the whole vocabulary;
// the truncating stages and temperature then run in SamplerParams::order.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "core/error.h"

namespace hearth {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// max(init, x[0..n)) where NaN never wins (the comparison `x > m` is false for NaN).
float segment_max(const float* x, int32_t n, float init) {
    float m[8] = {init, init, init, init, init, init, init, init};
    int32_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; ++k) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    for (; j < n; ++j) m[0] = x[j] > m[0] ? x[j] : m[0];
    float out = m[0];
    for (int k = 1; k < 8; ++k) out = m[k] > out ? m[k] : out;
    return out;
}

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

std::unordered_map<int32_t, int> Sampler::penalty_counts() const {
    const bool active = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                        params_.frequency_penalty != 0.0f;
    std::unordered_map<int32_t, int> counts;
    if (!active || history_.empty() || params_.penalty_last_n == 0) return counts;
    size_t window = history_.size();
    if (params_.penalty_last_n > 0) window = std::min(window, static_cast<size_t>(params_.penalty_last_n));
    for (size_t i = history_.size() - window; i < history_.size(); ++i) ++counts[history_[i]];
    return counts;
}

float Sampler::penalized(float logit, int count) const {
    if (logit > 0) logit /= params_.repeat_penalty;
    else logit *= params_.repeat_penalty;
    return logit - (static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty);
}

void Sampler::apply_penalties(std::vector<Candidate>& cands) const {
    // Runs first, on the full list: cands[i].id == i, so the few seen tokens are indexed directly.
    HEARTH_ASSERT(cands.size() == static_cast<size_t>(n_vocab_));
    for (const auto& [id, count] : penalty_counts()) {
        Candidate& c = cands[static_cast<size_t>(id)];
        HEARTH_ASSERT(c.id == id);
        c.logit = penalized(c.logit, count);
    }
}

std::map<int32_t, float> Sampler::summed_bias() const {
    std::map<int32_t, float> bias;  // a token listed twice gets the sum, added once
    for (const auto& [id, b] : params_.logit_bias) bias[id] += b;
    return bias;
}

void Sampler::apply_logit_bias(std::vector<Candidate>& cands) const {
    HEARTH_ASSERT(cands.size() == static_cast<size_t>(n_vocab_));
    for (const auto& [id, b] : summed_bias()) cands[static_cast<size_t>(id)].logit += b;
}

bool Sampler::first_truncation_is_top_k() const {
    if (params_.top_k <= 0) return false;
    for (SamplerStage stage : params_.order) {
        if (stage == SamplerStage::Penalties || stage == SamplerStage::LogitBias) continue;
        return stage == SamplerStage::TopK;
    }
    return false;
}

std::vector<std::pair<int32_t, float>> Sampler::adjusted_logits(const float* logits) const {
    std::vector<std::pair<int32_t, float>> adjusted;  // (id, logit after the stages), sorted by id
    const auto value_of = [&](int32_t id) -> float& {
        auto it = std::lower_bound(adjusted.begin(), adjusted.end(), id,
                                   [](const std::pair<int32_t, float>& a, int32_t b) { return a.first < b; });
        if (it == adjusted.end() || it->first != id) {
            const float l = logits[id];
            it = adjusted.insert(it, {id, std::isnan(l) ? kNegInf : l});
        }
        return it->second;
    };
    for (SamplerStage stage : params_.order) {
        if (stage == SamplerStage::Penalties) {
            for (const auto& [id, count] : penalty_counts()) {
                float& v = value_of(id);
                v = penalized(v, count);
            }
        } else if (stage == SamplerStage::LogitBias) {
            for (const auto& [id, b] : summed_bias()) value_of(id) += b;
        }
    }
    return adjusted;
}

int32_t Sampler::greedy_pick(const float* logits) const {
    // argmax of the logits after the penalty and bias stages (NaN counts as -inf; ties: lowest id).
    // Those stages touch only a few tokens: their adjusted values are kept aside, sorted by id, and
    // the scan runs over the raw logits between them (no candidate list of the whole vocabulary).
    const std::vector<std::pair<int32_t, float>> adjusted = adjusted_logits(logits);
    int32_t best = 0;
    float best_v = kNegInf;
    size_t next = 0;  // next adjusted entry
    int32_t i = 0;
    while (i < n_vocab_) {
        const int32_t end = next < adjusted.size() ? adjusted[next].first : n_vocab_;
        // The segment's maximum first (eight independent branch-free chains, so the loop runs at
        // the load rate; NaN never compares greater, so it loses like -inf), then its first
        // position only when it wins.
        float m = segment_max(logits + i, end - i, best_v);
        if (m > best_v) {
            while (logits[i] != m) ++i;
            best = i;
            best_v = m;
        }
        i = end;
        if (i < n_vocab_) {
            if (adjusted[next].second > best_v) {
                best_v = adjusted[next].second;
                best = i;
            }
            ++next;
            ++i;
        }
    }
    return best;  // every value -inf (or NaN): token 0, as a scan from the first token gives
}

namespace {

// Sorts by logit descending (ties: lower id first) and sets p to the softmax over the list.
void softmax_sorted(std::vector<Sampler::Candidate>& c);

}  // namespace

void Sampler::top_k_candidates(const float* logits, size_t k) {
    // The k best (logit after penalties and bias, ties: lower id) of the finite candidates, best
    // first: a bounded heap whose root is the worst kept one. Ids are visited in increasing order,
    // so a later token that only ties the root never displaces it.
    const std::vector<std::pair<int32_t, float>> adjusted = adjusted_logits(logits);
    const auto better = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    cands_.clear();
    cands_.reserve(k + 1);
    const auto consider = [&](int32_t id, float v) {
        if (!(v > kNegInf)) return;  // banned (-inf) or NaN
        if (cands_.size() < k) {
            cands_.push_back({id, v, 0.0f});
            std::push_heap(cands_.begin(), cands_.end(), better);
        } else if (v > cands_.front().logit) {
            std::pop_heap(cands_.begin(), cands_.end(), better);
            cands_.back() = {id, v, 0.0f};
            std::push_heap(cands_.begin(), cands_.end(), better);
        }
    };
    size_t next = 0;
    for (int32_t i = 0; i < n_vocab_; ++i) {
        if (next < adjusted.size() && adjusted[next].first == i) {
            consider(i, adjusted[next++].second);
            continue;
        }
        const float v = logits[i];
        if (cands_.size() == k && !(v > cands_.front().logit)) continue;  // the common case: not better
        consider(i, v);
    }
    std::sort_heap(cands_.begin(), cands_.end(), better);
}

int32_t Sampler::sample(const float* logits) {
    if (params_.temperature <= 0.0f) return greedy_pick(logits);
    if (first_truncation_is_top_k() && params_.top_k < n_vocab_) {
        // Top-k cuts first: only the best k are ever looked at again, so only they are collected
        // (the same k tokens, in the same order, as a full sort followed by the cut: the order is
        // total, ties by id). No stage reads probabilities without recomputing them over its list.
        top_k_candidates(logits, static_cast<size_t>(params_.top_k));
    } else {
        cands_.resize(static_cast<size_t>(n_vocab_));
        for (int32_t i = 0; i < n_vocab_; ++i) {
            const float l = logits[i];
            cands_[static_cast<size_t>(i)] = {i, std::isnan(l) ? kNegInf : l, 0.0f};
        }
        for (SamplerStage stage : params_.order) {
            switch (stage) {
                case SamplerStage::Penalties: apply_penalties(cands_); break;
                case SamplerStage::LogitBias: apply_logit_bias(cands_); break;
                default: break;
            }
        }
        // Drop banned tokens (-inf) before the truncating stages.
        cands_.erase(std::remove_if(cands_.begin(), cands_.end(), [](const Candidate& c) { return c.logit == kNegInf; }),
                     cands_.end());
    }
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
