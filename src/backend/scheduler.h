// The scheduler runs a graph over one or more backends: it assigns each node to a backend (where
// its weights live, else where the previous node ran, else the first backend that supports it;
// a cpy runs where its destination lives), cuts the node list into splits of consecutive nodes on
// the same backend, inserts copies of activations that cross splits (and of host leaves read by a
// non-host backend) into the consuming backend's memory, plans each backend's arena
// (core/planner.h) and computes the splits in order.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/context.h"
#include "core/graph.h"
#include "core/planner.h"

namespace hearth {

struct SchedStats {
    size_t n_nodes = 0;
    size_t n_splits = 0;
    size_t n_copies = 0;                    // activation copies inserted between splits
    std::vector<size_t> arena_bytes;        // per backend: compute buffer needed by the last graph
    std::vector<size_t> arena_capacity;     // per backend: compute buffer currently allocated
};

class Scheduler {
public:
    // backends in priority order; the last one must support every op (the CPU backend).
    // Backends are not owned and must outlive the scheduler.
    explicit Scheduler(std::vector<Backend*> backends);
    ~Scheduler();

    // Optional placement override (tests, debugging): return a backend index, or -1 for the
    // default rule. Views follow the tensor they view.
    void set_placement_override(std::function<int(const Tensor&)> fn) { override_ = std::move(fn); }

    // Plan memory and compute g. Node sources are temporarily rewired to inserted copies and
    // restored before returning, so the same graph may be computed again (inputs refreshed).
    void compute(const Graph& g);

    // Compute g again without planning it: arena addresses and each backend's node plans are
    // reused (a decode step costs no graph planning). g must be the graph this scheduler planned
    // last, unchanged since (Graph::version), and between the calls the caller may only change
    // the data of leaves it owns (inputs, the KV cache) and re-point views into such leaves:
    // their offsets, and the extent of views that nodes only read, each staying inside its leaf
    // and keeping which tensors' bytes overlap. Plans again (like compute) when g is not that
    // graph or the last plan inserted copies between backends.
    void compute_again(const Graph& g);

    // Plan only (assign data to intermediates and inputs) without computing: lets the caller
    // write Input tensors (positions, mask) before compute(g). compute() plans again, which is
    // cheap and yields the same addresses for the same graph.
    void plan(const Graph& g);

    const SchedStats& stats() const { return stats_; }
    // Backend index node t was assigned to by the last plan/compute (-1 if not a node of it).
    int backend_of(const Tensor* t) const;
    size_t n_backends() const { return backends_.size(); }
    Backend& backend(size_t i) const { return *backends_[i]; }

private:
    void plan_impl(const Graph& g);  // plan, leaving node sources rewired to the copies
    void run_splits();               // compute the planned splits in order
    struct Impl;
    std::vector<Backend*> backends_;
    std::function<int(const Tensor&)> override_;
    SchedStats stats_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hearth
