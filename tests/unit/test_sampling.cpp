// Unit tests of the sampler chain and the log-probability helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "sampling/sampler.h"

using namespace hearth;

namespace {
SamplerParams greedy_params() {
    SamplerParams p;
    p.temperature = 0.0f;
    return p;
}
}  // namespace

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
    Sampler s(greedy_params(), 5);
    const float logits[5] = {0.1f, 3.0f, 3.0f, -1.0f, 2.0f};
    EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, LogitBiasBansAndBoosts) {
    SamplerParams p = greedy_params();
    p.logit_bias = {{1, -INFINITY}, {3, 10.0f}};
    Sampler s(p, 5);
    const float logits[5] = {0.1f, 3.0f, 2.9f, -1.0f, 2.0f};
    EXPECT_EQ(s.sample(logits), 3);
}

TEST(Sampler, RepeatPenaltyDemotesSeenTokens) {
    SamplerParams p = greedy_params();
    p.repeat_penalty = 2.0f;
    Sampler s(p, 3);
    const float logits[3] = {1.0f, 1.5f, 0.5f};
    EXPECT_EQ(s.sample(logits), 1);
    s.accept(1);
    EXPECT_EQ(s.sample(logits), 0);  // 1.5 / 2 = 0.75 < 1.0
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
    SamplerParams p = greedy_params();
    p.frequency_penalty = 0.4f;
    p.presence_penalty = 0.1f;
    Sampler s(p, 2);
    const float logits[2] = {1.0f, 1.6f};
    s.accept(1);
    EXPECT_EQ(s.sample(logits), 1);  // 1.6 - 0.4 - 0.1 = 1.1
    s.accept(1);
    EXPECT_EQ(s.sample(logits), 0);  // 1.6 - 0.8 - 0.1 = 0.7
}

TEST(Sampler, SeededSamplingIsReproducible) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    const float logits[4] = {1.0f, 1.1f, 0.9f, 1.05f};
    Sampler a(p, 4), b(p, 4);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, TopKOneIsGreedy) {
    SamplerParams p;
    p.temperature = 1.5f;
    p.top_k = 1;
    p.seed = 7;
    Sampler s(p, 4);
    const float logits[4] = {0.0f, 0.2f, 0.1f, 0.15f};
    for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, TopPAndMinPTruncate) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 0.5f;  // token 0 alone holds > 0.5 of the mass
    p.min_p = 0.0f;
    p.seed = 3;
    Sampler s(p, 3);
    const float logits[3] = {5.0f, 1.0f, 1.0f};
    for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits), 0);
    SamplerParams q = p;
    q.top_p = 1.0f;
    q.min_p = 0.5f;  // 1.0 vs 5.0: exp(-4) < 0.5, so only token 0 survives
    Sampler m(q, 3);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(m.sample(logits), 0);
}

TEST(Sampler, DistributionFollowsSoftmax) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 99;
    Sampler s(p, 2);
    const float logits[2] = {0.0f, std::log(3.0f)};  // p = 0.25 / 0.75
    int ones = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) ones += s.sample(logits) == 1;
    EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.02);
}

TEST(Sampler, RejectsBadParameters) {
    SamplerParams p;
    p.logit_bias = {{10, 1.0f}};
    EXPECT_THROW(Sampler(p, 5), Error);
    SamplerParams q;
    q.repeat_penalty = 0.0f;
    EXPECT_THROW(Sampler(q, 5), Error);
}

TEST(Logprobs, TopKSortedAndNormalised) {
    const float logits[4] = {1.0f, 3.0f, 2.0f, 3.0f};
    auto top = top_logprobs(logits, 4, 3);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].id, 1);
    EXPECT_EQ(top[1].id, 3);
    EXPECT_EQ(top[2].id, 2);
    double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
    EXPECT_NEAR(top[0].logprob, 3.0 - std::log(z), 1e-5);
    EXPECT_NEAR(token_logprob(logits, 4, 0), 1.0 - std::log(z), 1e-5);
}
