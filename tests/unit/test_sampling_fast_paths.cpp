// The sampler's fast paths (greedy straight from the logits; top-k selection instead of a full sort)
// pick exactly what the plain algorithm picks: a full candidate list, penalties and bias on every
// token, a full sort, then the stages. The plain algorithm is written out here as the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "core/error.h"
#include "sampling/sampler.h"

namespace hearth {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Cand {
    int32_t id;
    float logit;
    float p;
};

void ref_softmax_sorted(std::vector<Cand>& c) {
    std::sort(c.begin(), c.end(), [](const Cand& a, const Cand& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
    // Float exponentials, a double sum, float probabilities: the sampler's own arithmetic.
    const float max_logit = c.front().logit;
    double sum = 0;
    for (auto& x : c) sum += (x.p = std::exp(x.logit - max_logit));
    for (auto& x : c) x.p = float(x.p / sum);
}

// The plain algorithm for the default stage order; `rng` is consumed as the sampler consumes its own.
int32_t ref_sample(const SamplerParams& sp, const std::vector<float>& logits, const std::vector<int32_t>& history,
                   std::mt19937_64& rng) {
    std::vector<Cand> c;
    for (int32_t i = 0; i < int32_t(logits.size()); ++i) c.push_back({i, std::isnan(logits[i]) ? -kInf : logits[i], 0});
    const bool penal = sp.repeat_penalty != 1.0f || sp.presence_penalty != 0.0f || sp.frequency_penalty != 0.0f;
    if (penal && sp.penalty_last_n != 0) {
        size_t window = history.size();
        if (sp.penalty_last_n > 0) window = std::min(window, size_t(sp.penalty_last_n));
        std::map<int32_t, int> counts;
        for (size_t i = history.size() - window; i < history.size(); ++i) ++counts[history[i]];
        for (auto& x : c) {
            auto it = counts.find(x.id);
            if (it == counts.end()) continue;
            x.logit = x.logit > 0 ? x.logit / sp.repeat_penalty : x.logit * sp.repeat_penalty;
            x.logit -= float(it->second) * sp.frequency_penalty + sp.presence_penalty;
        }
    }
    std::map<int32_t, float> bias;
    for (const auto& [id, b] : sp.logit_bias) bias[id] += b;
    for (auto& x : c)
        if (bias.count(x.id)) x.logit += bias[x.id];
    if (sp.temperature <= 0) {
        size_t best = 0;
        for (size_t i = 1; i < c.size(); ++i)
            if (c[i].logit > c[best].logit) best = i;
        return c[best].id;
    }
    c.erase(std::remove_if(c.begin(), c.end(), [](const Cand& x) { return x.logit == -kInf; }), c.end());
    ref_softmax_sorted(c);
    if (sp.top_k > 0 && size_t(sp.top_k) < c.size()) c.resize(size_t(sp.top_k));
    if (sp.top_p < 1.0f) {
        ref_softmax_sorted(c);
        double cum = 0;
        for (size_t i = 0; i < c.size(); ++i)
            if ((cum += c[i].p) >= sp.top_p) {
                c.resize(i + 1);
                break;
            }
    }
    if (sp.min_p > 0) {
        const float threshold = c.front().logit + std::log(sp.min_p);
        size_t keep = 1;
        while (keep < c.size() && c[keep].logit >= threshold) ++keep;
        c.resize(keep);
    }
    for (auto& x : c) x.logit /= sp.temperature;
    ref_softmax_sorted(c);
    const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    double cum = 0;
    for (const auto& x : c)
        if (r < (cum += x.p)) return x.id;
    return c.back().id;
}

std::vector<float> random_logits(std::mt19937& g, int n, bool coarse) {
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<float> l(static_cast<size_t>(n));
    for (auto& x : l) x = coarse ? std::round(nd(g)) : nd(g);  // coarse: many exact ties
    return l;
}

TEST(SamplerFastPath, GreedyEqualsFullScanWithPenaltiesAndBias) {
    std::mt19937 g(7);
    for (int trial = 0; trial < 300; ++trial) {
        const int n = 1 + int(g() % 3000);
        SamplerParams sp;
        sp.temperature = 0;
        if (trial % 3 == 1) {
            sp.repeat_penalty = 1.3f;
            sp.presence_penalty = 0.5f;
            sp.frequency_penalty = 0.25f;
            sp.penalty_last_n = int32_t(g() % 3) == 0 ? -1 : 16;
        }
        if (trial % 2 == 0) {
            for (int k = 0; k < 5; ++k) sp.logit_bias.push_back({int32_t(g() % n), float(int(g() % 9) - 4)});
            sp.logit_bias.push_back({int32_t(g() % n), -kInf});
            sp.logit_bias.push_back({sp.logit_bias[0].first, 1.5f});  // a repeated token: summed
        }
        std::vector<float> logits = random_logits(g, n, trial % 4 == 0);
        if (trial % 5 == 0) logits[g() % n] = std::numeric_limits<float>::quiet_NaN();
        Sampler s(sp, n);
        std::vector<int32_t> history;
        for (int k = 0; k < 40; ++k) {
            const int32_t t = int32_t(g() % std::min(n, 50));
            history.push_back(t);
            s.accept(t);
        }
        std::mt19937_64 unused;
        ASSERT_EQ(s.sample(logits.data()), ref_sample(sp, logits, history, unused)) << trial;
    }
}

TEST(SamplerFastPath, GreedyEdgeCases) {
    SamplerParams sp;
    sp.temperature = 0;
    std::vector<float> all_neg_inf(5, -kInf);
    EXPECT_EQ(Sampler(sp, 5).sample(all_neg_inf.data()), 0);
    std::vector<float> nan_first = {std::numeric_limits<float>::quiet_NaN(), -1, 2, 2};
    EXPECT_EQ(Sampler(sp, 4).sample(nan_first.data()), 2);
    sp.logit_bias = {{3, 0.5f}};  // the last token, lifted above the others
    EXPECT_EQ(Sampler(sp, 4).sample(nan_first.data()), 3);
    sp.logit_bias = {{2, -kInf}, {3, -kInf}};
    EXPECT_EQ(Sampler(sp, 4).sample(nan_first.data()), 1);
}

TEST(SamplerFastPath, TopKSelectionEqualsFullSort) {
    std::mt19937 g(11);
    for (int trial = 0; trial < 120; ++trial) {
        const int n = 2 + int(g() % 5000);
        SamplerParams sp;
        sp.temperature = 0.3f + float(g() % 10) / 5.0f;
        sp.top_k = int32_t(1 + g() % 64);
        sp.top_p = trial % 3 == 0 ? 1.0f : 0.9f;
        sp.min_p = trial % 2 == 0 ? 0.0f : 0.05f;
        sp.seed = 1000 + uint64_t(trial);
        if (trial % 4 == 1) sp.repeat_penalty = 1.2f;
        if (trial % 4 == 2) sp.logit_bias = {{int32_t(g() % n), -kInf}, {int32_t(g() % n), 3.0f}};
        Sampler s(sp, n);
        std::mt19937_64 ref_rng(sp.seed);
        std::vector<int32_t> history;
        for (int step = 0; step < 6; ++step) {
            std::vector<float> logits = random_logits(g, n, trial % 3 == 1);
            const int32_t want = ref_sample(sp, logits, history, ref_rng);
            ASSERT_EQ(s.sample(logits.data()), want) << trial << " step " << step;
            s.accept(want);
            history.push_back(want);
        }
    }
}

TEST(SamplerFastPath, TopKWithFewerFiniteCandidatesThanK) {
    std::mt19937 g(5);
    for (int trial = 0; trial < 40; ++trial) {
        const int n = 50;
        SamplerParams sp;
        sp.temperature = 0.7f;
        sp.top_k = 40;
        sp.seed = 77 + uint64_t(trial);
        for (int id = 0; id < n; ++id)
            if (id % 7 != trial % 7) sp.logit_bias.push_back({id, -kInf});  // 7 or 8 survivors
        std::vector<float> logits = random_logits(g, n, trial % 2 == 0);
        logits[size_t(trial % 7)] = std::numeric_limits<float>::quiet_NaN();  // one survivor is NaN: dropped
        Sampler s(sp, n);
        std::mt19937_64 ref_rng(sp.seed);
        for (int step = 0; step < 4; ++step) ASSERT_EQ(s.sample(logits.data()), ref_sample(sp, logits, {}, ref_rng));
    }
    SamplerParams sp;
    sp.top_k = 3;
    sp.logit_bias = {{0, -kInf}, {1, -kInf}};
    std::vector<float> two = {1.0f, 2.0f};
    EXPECT_THROW(Sampler(sp, 2).sample(two.data()), Error);
}

TEST(SamplerFastPath, LargeVocabularyGreedyIsFast) {
    // A 262k vocabulary (Gemma 3): the greedy pick only reads the logits. Generous bound for a
    // loaded machine; the full candidate list it replaced took several ms per pick.
    std::mt19937 g(3);
    std::vector<float> logits = random_logits(g, 262144, false);
    SamplerParams sp;
    sp.temperature = 0;
    Sampler s(sp, 262144);
    auto t0 = std::chrono::steady_clock::now();
    int32_t last = -1;
    for (int i = 0; i < 50; ++i) last = s.sample(logits.data());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 50;
    EXPECT_EQ(last, int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    EXPECT_LT(ms, 20.0);
}

}  // namespace
}  // namespace hearth
