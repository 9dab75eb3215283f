// Memory planner: gives every graph intermediate (and every Input leaf without data) an offset in
// one arena, reusing memory by liveness (a tensor's bytes are free once its last reader has run).
// The arena grows only when a plan needs more than it has, so rebuilding a same-shaped graph each
// decode step allocates nothing after warm-up.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/graph.h"
#include "core/ptr_map.h"
#include "core/tensor.h"

namespace hearth {

struct PlanStats {
    size_t arena_bytes = 0;    // bytes this plan needs (peak of live tensors, with alignment)
    size_t naive_bytes = 0;    // sum of the planned tensors' sizes (what no reuse would need)
    size_t n_planned = 0;      // tensors given memory by this plan
    bool arena_grew = false;   // the plan had to (re)allocate the arena
};

class MemoryPlanner {
public:
    // Memory source for the arena; the default is 64-byte aligned host memory. A device backend
    // passes its own (the returned pointer is only used as a base for offsets).
    struct Allocator {
        std::function<void*(size_t bytes)> alloc;
        std::function<void(void* p)> free;
    };

    explicit MemoryPlanner(size_t alignment = 64);
    MemoryPlanner(Allocator allocator, size_t alignment);
    ~MemoryPlanner();
    MemoryPlanner(const MemoryPlanner&) = delete;
    MemoryPlanner& operator=(const MemoryPlanner&) = delete;

    // Plan and assign data for all of g's nodes. Views get data = view_src->data + view_offset.
    PlanStats plan(const Graph& g);

    // General form used by the scheduler: `order` is the execution order (nodes; sources not in
    // the list are treated as inputs). Only tensors for which `mine(t)` is true get memory here;
    // lifetimes are computed over the whole order. Tensors that already have data not given by a
    // planner (no kFlagPlanned) are skipped;
    // kFlagOutput tensors live to the end.
    PlanStats plan(const std::vector<Tensor*>& order, const std::function<bool(const Tensor*)>& mine);

    void* arena_base() const { return base_; }
    size_t arena_capacity() const { return capacity_; }
    size_t n_arena_allocations() const { return n_allocs_; }  // times the arena was (re)allocated

    // Resolve data of view nodes in order (view_src->data + view_offset); safe to call repeatedly.
    static void resolve_views(const std::vector<Tensor*>& order);

private:
    Allocator allocator_;
    size_t alignment_;
    void* base_ = nullptr;
    size_t capacity_ = 0;
    size_t n_allocs_ = 0;
    // plan()'s working sets, kept between plans (cleared, not freed).
    PtrMap<int> last_use_, position_;
    PtrMap<std::pair<size_t, size_t>> placed_;
    std::vector<Tensor*> inputs_;
};

}  // namespace hearth
