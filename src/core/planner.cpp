// Liveness-based arena planning: walk the execution order, give each new tensor the best-fitting
// free range (or extend the top), and return a tensor's range to the free list after its last
// reader. The arena is reallocated only when a plan's peak exceeds its capacity.
#include "core/planner.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.h"

namespace hearth {
namespace {

const Tensor* root_of(const Tensor* t) { return t->view_src ? t->view_src : t; }

// Free ranges kept sorted by offset and coalesced; `top` is the end of the used arena.
class RangeAllocator {
public:
    size_t alloc(size_t size) {
        size_t best = free_.size();
        for (size_t i = 0; i < free_.size(); ++i)
            if (free_[i].size >= size && (best == free_.size() || free_[i].size < free_[best].size)) best = i;
        if (best != free_.size()) {
            const size_t off = free_[best].offset;
            free_[best].offset += size;
            free_[best].size -= size;
            if (free_[best].size == 0) free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
            return off;
        }
        // Grow: reuse a free range that ends at the top.
        if (!free_.empty() && free_.back().offset + free_.back().size == top_) {
            const size_t off = free_.back().offset;
            free_.pop_back();
            top_ = off + size;
            peak_ = std::max(peak_, top_);
            return off;
        }
        const size_t off = top_;
        top_ += size;
        peak_ = std::max(peak_, top_);
        return off;
    }

    void release(size_t offset, size_t size) {
        auto it = std::lower_bound(free_.begin(), free_.end(), offset,
                                   [](const Range& r, size_t o) { return r.offset < o; });
        it = free_.insert(it, Range{offset, size});
        // Merge with the next, then with the previous range.
        auto next = it + 1;
        if (next != free_.end() && it->offset + it->size == next->offset) {
            it->size += next->size;
            free_.erase(next);
        }
        if (it != free_.begin()) {
            auto prev = it - 1;
            if (prev->offset + prev->size == it->offset) {
                prev->size += it->size;
                free_.erase(it);
            }
        }
    }

    size_t peak() const { return peak_; }

private:
    struct Range {
        size_t offset;
        size_t size;
    };
    std::vector<Range> free_;
    size_t top_ = 0;
    size_t peak_ = 0;
};

void* default_alloc(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
void default_free(void* p) { std::free(p); }

}  // namespace

MemoryPlanner::MemoryPlanner(size_t alignment) : MemoryPlanner(Allocator{default_alloc, default_free}, alignment) {}

MemoryPlanner::MemoryPlanner(Allocator allocator, size_t alignment)
    : allocator_(std::move(allocator)), alignment_(alignment ? alignment : 64) {}

MemoryPlanner::~MemoryPlanner() {
    if (base_) allocator_.free(base_);
}

void MemoryPlanner::resolve_views(const std::vector<Tensor*>& order) {
    for (Tensor* t : order) {
        for (int i = 0; i < kMaxSrc; ++i) {
            Tensor* s = t->src[i];
            if (s && s->view_src && s->view_src->data) s->data = static_cast<char*>(s->view_src->data) + s->view_offset;
        }
        if (t->view_src && t->view_src->data) {
            t->data = static_cast<char*>(t->view_src->data) + t->view_offset;
            t->buffer = t->view_src->buffer;
        }
    }
}

PlanStats MemoryPlanner::plan(const Graph& g) {
    return plan(g.nodes(), [](const Tensor*) { return true; });
}

PlanStats MemoryPlanner::plan(const std::vector<Tensor*>& order, const std::function<bool(const Tensor*)>& mine) {
    constexpr int kForever = std::numeric_limits<int>::max();
    const int n = static_cast<int>(order.size());
    // (member maps and vectors: cleared, not freed, so a decode step allocates nothing here)
    PtrMap<int>& last_use = last_use_;  // memory owner -> last position reading it
    PtrMap<int>& position = position_;
    std::vector<Tensor*>& inputs = inputs_;  // sources outside `order` that need memory
    last_use.clear();
    position.clear();
    inputs.clear();
    for (int i = 0; i < n; ++i) position[order[i]] = i;

    auto needs_memory = [&](const Tensor* t) {
        return !t->view_src && (!t->data || (t->flags & kFlagPlanned)) && mine(t);
    };

    for (int i = 0; i < n; ++i) {
        Tensor* t = order[i];
        const Tensor* self_root = root_of(t);
        int& self_lu = *last_use.try_emplace(self_root, i).first;
        self_lu = std::max(self_lu, i);
        if (t->flags & kFlagOutput) self_lu = kForever;
        for (int k = 0; k < kMaxSrc; ++k) {
            Tensor* s = t->src[k];
            if (!s) continue;
            Tensor* r = s->view_src ? s->view_src : s;
            int& lu = *last_use.try_emplace(r, i).first;
            lu = std::max(lu, i);
            if (s->flags & kFlagOutput) lu = kForever;
            if (!position.contains(r) && needs_memory(r) &&
                std::find(inputs.begin(), inputs.end(), r) == inputs.end())
                inputs.push_back(r);
        }
    }

    const auto aligned = [&](size_t b) { return std::max<size_t>(alignment_, (b + alignment_ - 1) / alignment_ * alignment_); };
    RangeAllocator ranges;
    PtrMap<std::pair<size_t, size_t>>& placed = placed_;  // tensor -> (offset, size)
    placed.clear();
    PlanStats st;

    auto place = [&](Tensor* t) {
        const size_t sz = aligned(t->nbytes());
        placed[t] = {ranges.alloc(sz), sz};
        st.naive_bytes += sz;
        ++st.n_planned;
    };
    // Memory whose last reader is node i returns to the free list only once node i+kReleaseLag
    // got its memory: the next few nodes never overwrite what node i reads, which lets the CPU
    // backend run short element-wise chains (norm -> mul -> add) without barriers between them.
    constexpr int kReleaseLag = 4;
    std::vector<std::pair<size_t, size_t>> pending[kReleaseLag];
    int step = 0;  // counts computing nodes only (views are free)
    auto maybe_release = [&](const Tensor* r, int i) {
        std::pair<size_t, size_t>* p = placed.find(r);
        if (!p || p->second == 0) return;
        if (last_use[r] != i) return;
        pending[step % kReleaseLag].push_back(*p);
        p->second = 0;  // mark released, keep the offset
    };

    for (Tensor* t : inputs) place(t);  // inputs are written before compute: live from the start
    for (int i = 0; i < n; ++i) {
        Tensor* t = order[i];
        if (needs_memory(t)) place(t);
        if (t->op != OpKind::View) {
            ++step;
            auto& due = pending[step % kReleaseLag];  // released kReleaseLag computing nodes ago
            for (const auto& [off, sz] : due) ranges.release(off, sz);
            due.clear();
        }
        for (int k = 0; k < kMaxSrc; ++k)
            if (t->src[k]) maybe_release(root_of(t->src[k]), i);
        maybe_release(root_of(t), i);
    }

    st.arena_bytes = ranges.peak();
    if (st.arena_bytes > capacity_) {
        if (base_) allocator_.free(base_);
        base_ = allocator_.alloc(st.arena_bytes);
        if (!base_) {
            capacity_ = 0;
            throw Error(ErrorKind::OutOfMemory, "cannot allocate a compute arena of " + std::to_string(st.arena_bytes) + " bytes");
        }
        capacity_ = st.arena_bytes;
        ++n_allocs_;
        st.arena_grew = true;
    }
    // The offsets were remembered before release (size zeroed on release): recompute from the map.
    placed.for_each([&](const void* t, const std::pair<size_t, size_t>& range) {
        Tensor* w = static_cast<Tensor*>(const_cast<void*>(t));
        w->data = static_cast<char*>(base_) + range.first;
        w->flags |= kFlagPlanned;
    });
    resolve_views(order);
    return st;
}

}  // namespace hearth
