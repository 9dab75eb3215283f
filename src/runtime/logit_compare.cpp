// Log-softmax and distribution comparison (KLD, top-1, target log-probability) for kv-report.
#include "runtime/logit_compare.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace hearth {

void log_softmax(const float* logits, int64_t n, float* out) {
    HEARTH_ASSERT(n > 0);
    const float mx = *std::max_element(logits, logits + n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
    const double lse = double(mx) + std::log(sum);
    for (int64_t i = 0; i < n; ++i) out[i] = float(double(logits[i]) - lse);
}

LogitComparison compare_logprobs(const float* ref_lp, const float* cand_lp, int64_t n, int32_t target) {
    HEARTH_ASSERT(n > 0 && target >= 0 && target < n);
    LogitComparison c;
    int64_t top_ref = 0, top_cand = 0;
    double kld = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (ref_lp[i] > ref_lp[top_ref]) top_ref = i;
        if (cand_lp[i] > cand_lp[top_cand]) top_cand = i;
        const double lr = ref_lp[i];
        if (lr < -80.0) continue;  // p_ref below 2e-35: no contribution in double
        kld += std::exp(lr) * (lr - double(cand_lp[i]));
    }
    c.kld = std::max(0.0, kld);  // rounding can make a tiny divergence negative
    c.same_top1 = top_ref == top_cand;
    c.cand_logprob = cand_lp[target];
    return c;
}

double LogitStats::ppl() const { return count ? std::exp(nll / double(count)) : 0.0; }

}  // namespace hearth
