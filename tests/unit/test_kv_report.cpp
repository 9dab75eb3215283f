// kv-report's statistics: log-softmax normalises, identical distributions have KLD 0 and agree on
// top-1, KL divergence matches a hand-computed two-token case, and the running means add up.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/logit_compare.h"

namespace hearth {
namespace {

TEST(KvReportStats, LogSoftmaxNormalises) {
    const std::vector<float> logits = {1.0f, 2.0f, -3.0f, 1000.0f, 999.0f};
    std::vector<float> lp(logits.size());
    log_softmax(logits.data(), int64_t(logits.size()), lp.data());
    double sum = 0;
    for (float v : lp) sum += std::exp(double(v));
    EXPECT_NEAR(sum, 1.0, 1e-6);
    EXPECT_NEAR(lp[3] - lp[4], 1.0f, 1e-5f);
}

TEST(KvReportStats, IdenticalIsZeroAndTwoTokenKld) {
    const std::vector<float> a = {0.5f, -1.0f, 2.0f};
    std::vector<float> la(3);
    log_softmax(a.data(), 3, la.data());
    const LogitComparison same = compare_logprobs(la.data(), la.data(), 3, 1);
    EXPECT_EQ(same.kld, 0.0);
    EXPECT_TRUE(same.same_top1);
    EXPECT_FLOAT_EQ(float(same.cand_logprob), la[1]);

    // p = (0.8, 0.2), q = (0.5, 0.5): KL(p||q) = 0.8 ln 1.6 + 0.2 ln 0.4.
    const std::vector<float> lp = {std::log(0.8f), std::log(0.2f)}, lq = {std::log(0.5f), std::log(0.5f)};
    const LogitComparison c = compare_logprobs(lp.data(), lq.data(), 2, 0);
    EXPECT_NEAR(c.kld, 0.8 * std::log(1.6) + 0.2 * std::log(0.4), 1e-6);
    EXPECT_TRUE(c.same_top1);  // ties resolve to the lowest index
    const std::vector<float> lr = {std::log(0.3f), std::log(0.7f)};
    EXPECT_FALSE(compare_logprobs(lp.data(), lr.data(), 2, 0).same_top1);

    LogitStats s;
    s.add(same);
    s.add(c);
    EXPECT_EQ(s.count, 2);
    EXPECT_DOUBLE_EQ(s.top1_pct(), 100.0);
    EXPECT_NEAR(s.mean_kld(), c.kld / 2, 1e-12);
    EXPECT_NEAR(s.ppl(), std::exp(-(double(la[1]) + std::log(0.5)) / 2), 1e-5);
}

}  // namespace
}  // namespace hearth
