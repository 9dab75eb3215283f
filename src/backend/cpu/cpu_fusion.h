// CPU backend op fusion: before a compute, node pairs that one pass can do are replaced in the
// list the backend runs (never in the caller's graph). Today: rms_norm(x) followed by a mul with
// a per-column weight vector becomes one rms_norm node carrying the weight as src[1], so the
// normalized row is scaled by the weight while it is still in registers (one read of x and one
// write instead of two of each). The fused node computes (x[i] * k) * w[i], the very float
// operations of the pair, so results are bitwise the same with and without fusion.
#pragma once

#include <span>
#include <vector>

#include "core/tensor.h"

namespace hearth::cpu {

struct FusionPlan {
    std::vector<Tensor*> exec;    // the list to run: original nodes, fused nodes, or skip (op None)
    std::vector<Tensor> fused;    // storage of the fused nodes exec points at (valid until replanned)
    size_t n_fused = 0;           // pairs fused in the last plan
};

// Fills plan.exec from nodes (same length: a pair's first node becomes a no-op, its second the
// fused node) and returns it. A pair is fused only when nothing else reads the first node's
// output (no other source, no view of it, not flagged output) and the two are adjacent apart from
// views, so the dependencies the barrier planner sees stay the ones of the pair.
std::span<Tensor* const> plan_fusions(std::span<Tensor* const> nodes, FusionPlan& plan);

}  // namespace hearth::cpu
