// CPU backend op fusion (see cpu_fusion.h): finds rms_norm -> mul(weight row) pairs and builds the
// fused node list.
#include "backend/cpu/cpu_fusion.h"

#include <unordered_map>

namespace hearth::cpu {
namespace {

// The node every skipped (fused-away) position points at: computes nothing, needs no barrier.
Tensor& skip_node() {
    static Tensor t = [] {
        Tensor s;
        s.op = OpKind::None;
        s.set_name("fused_away");
        return s;
    }();
    return t;
}

// w is an F32 vector of n packed elements broadcast over every row ([n, 1, 1, 1]).
bool weight_row(const Tensor& w, int64_t n) {
    return w.type == DType::F32 && w.ne[0] == n && w.ne[1] == 1 && w.ne[2] == 1 && w.ne[3] == 1 &&
           w.nb[0] == sizeof(float) && w.data != nullptr;
}

// The fused node reads row r of x and then writes row r of out: safe when out and x do not
// overlap, or when out is x itself (same rows, in place); a shifted overlap (the memory planner
// reusing x's dead bytes for out at another offset) could overwrite rows not yet read.
bool disjoint_or_in_place(const Tensor& out, const Tensor& x) {
    const char* o = static_cast<const char*>(out.data);
    const char* s = static_cast<const char*>(x.data);
    if (o + out.nbytes() <= s || s + x.nbytes() <= o) return true;
    return o == s && x.is_contiguous() && x.same_shape(out);
}

struct Pair {
    size_t norm, mul;
    const Tensor* weight;
};

}  // namespace

std::span<Tensor* const> plan_fusions(std::span<Tensor* const> nodes, FusionPlan& plan) {
    plan.exec.assign(nodes.begin(), nodes.end());
    plan.fused.clear();
    plan.n_fused = 0;
    // Readers of each node's output: sources of later nodes and views aliasing it.
    std::unordered_map<const Tensor*, int> readers;
    for (const Tensor* t : nodes) {
        for (const Tensor* s : t->src)
            if (s) ++readers[s->view_src ? s->view_src : s];
        if (t->view_src) ++readers[t->view_src];
    }
    std::vector<Pair> pairs;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Tensor& n = *nodes[i];
        if (n.op != OpKind::RmsNorm || n.src[1] || n.type != DType::F32 || (n.flags & kFlagOutput)) continue;
        size_t j = i + 1;
        while (j < nodes.size() && nodes[j]->op == OpKind::View) ++j;
        if (j == nodes.size()) continue;
        const Tensor& m = *nodes[j];
        if (m.op != OpKind::Mul || m.type != DType::F32 || !m.same_shape(n) || !m.is_contiguous()) continue;
        const Tensor* w = m.src[0] == &n ? m.src[1] : nullptr;  // (mul broadcasts src[1] only)
        if (!w || w == &n || !weight_row(*w, n.ne[0]) || readers[&n] != 1 ||
            !disjoint_or_in_place(m, *n.src[0]))
            continue;
        pairs.push_back({i, j, w});
    }
    plan.fused.reserve(pairs.size());  // exec keeps pointers into it
    for (const Pair& p : pairs) {
        const Tensor& n = *nodes[p.norm];
        Tensor f = *nodes[p.mul];  // the mul's output (data, shape, name), computed as a norm
        f.op = OpKind::RmsNorm;
        for (Tensor*& s : f.src) s = nullptr;
        f.src[0] = n.src[0];
        f.src[1] = const_cast<Tensor*>(p.weight);
        std::copy(std::begin(n.op_params), std::end(n.op_params), std::begin(f.op_params));
        plan.fused.push_back(f);
        plan.exec[p.norm] = &skip_node();
        plan.exec[p.mul] = &plan.fused.back();
    }
    plan.n_fused = pairs.size();
    return plan.exec;
}

}  // namespace hearth::cpu
