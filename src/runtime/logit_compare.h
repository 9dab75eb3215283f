// Comparing two next-token distributions given as logits: log-softmax, the KL divergence of a
// candidate from a reference, top-1 agreement and the reference's log-probability of a target.
// Used by `hearth kv-report` to measure what a KV-cache configuration costs against f16 KV.
#pragma once

#include <cstdint>
#include <vector>

namespace hearth {

// out[0..n) = log softmax(logits[0..n)) (max-subtracted, double accumulation).
void log_softmax(const float* logits, int64_t n, float* out);

struct LogitComparison {
    double kld = 0;         // KL(ref || cand) = sum_i p_ref(i) (log p_ref(i) - log p_cand(i)), >= 0
    bool same_top1 = false;  // argmax of both equal (lowest index on ties)
    double cand_logprob = 0; // log p_cand(target)
};

// ref_lp and cand_lp are log-softmax rows of n entries (log_softmax above); target in [0, n).
LogitComparison compare_logprobs(const float* ref_lp, const float* cand_lp, int64_t n, int32_t target);

// Running means over compared tokens of one configuration.
struct LogitStats {
    int64_t count = 0;
    double nll = 0, nll2 = 0;  // sums of -log p_cand(target) and its square
    double kld = 0;
    int64_t same_top1 = 0;
    void add(const LogitComparison& c) {
        ++count;
        nll -= c.cand_logprob;
        nll2 += c.cand_logprob * c.cand_logprob;
        kld += c.kld;
        same_top1 += c.same_top1 ? 1 : 0;
    }
    double ppl() const;             // exp(mean nll)
    double mean_kld() const { return count ? kld / double(count) : 0.0; }
    double top1_pct() const { return count ? 100.0 * double(same_top1) / double(count) : 0.0; }
};

}  // namespace hearth
