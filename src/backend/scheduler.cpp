// Scheduler: node placement, split construction with activation copies between backends, one
// memory planner (arena) per backend, and split-by-split execution.
#include "backend/scheduler.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/ptr_map.h"

namespace hearth {

struct Scheduler::Impl {
    struct Split {
        int backend;
        size_t copies_begin, nodes_begin, end;  // ranges in `order`: [copies) then [nodes)
    };
    struct Rewire {
        Tensor* node;
        int slot;
        Tensor* original;
    };
    Context copies;                                         // copy tensors and views of copies
    std::vector<std::unique_ptr<MemoryPlanner>> planners;   // one arena per backend
    std::vector<std::unique_ptr<BackendBuffer>> arenas;     // the arena buffer of each planner
    PtrMap<int> where;                                      // tensor -> backend index
    PtrMap<Tensor*> copy_of;                                // per split: source -> its copy
    std::vector<Tensor*> order;                             // execution order incl. copies
    std::vector<Split> splits;
    std::vector<Rewire> rewired;
    std::vector<unsigned char> staging;
    const Graph* planned = nullptr;  // the graph of the last plan, and its version then
    uint64_t planned_version = 0;
    bool ran_plan = false;           // the backends computed the last plan (and hold its node plans)

    void restore() {
        for (auto it = rewired.rbegin(); it != rewired.rend(); ++it) it->node->src[it->slot] = it->original;
        rewired.clear();
    }
};

Scheduler::Scheduler(std::vector<Backend*> backends) : backends_(std::move(backends)), impl_(std::make_unique<Impl>()) {
    if (backends_.empty()) throw Error(ErrorKind::InvalidArgument, "scheduler: no backends given");
    impl_->arenas.reserve(backends_.size());  // the allocators below keep references into it
    for (size_t i = 0; i < backends_.size(); ++i) {
        Backend* b = backends_[i];
        HEARTH_ASSERT(b != nullptr);
        auto& arena = impl_->arenas.emplace_back();
        MemoryPlanner::Allocator alloc{
            [b, &arena](size_t bytes) -> void* {
                arena = b->alloc_buffer(bytes);
                return arena->base();
            },
            [&arena](void*) { arena.reset(); }};
        impl_->planners.push_back(std::make_unique<MemoryPlanner>(std::move(alloc), b->alignment()));
    }
}

Scheduler::~Scheduler() {
    // Planners free through lambdas referring to arenas: destroy planners first.
    impl_->planners.clear();
}

int Scheduler::backend_of(const Tensor* t) const {
    const int* b = impl_->where.find(t);
    return b ? *b : -1;
}

namespace {

const Tensor* root_of(const Tensor* t) { return t->view_src ? t->view_src : t; }

}  // namespace

void Scheduler::plan(const Graph& g) {
    plan_impl(g);
    impl_->restore();
}

void Scheduler::plan_impl(const Graph& g) {
    Impl& im = *impl_;
    im.restore();
    im.planned = nullptr;  // (set again once the plan is complete)
    im.ran_plan = false;
    im.copies.reset();
    im.where.clear();
    im.order.clear();
    im.splits.clear();
    const int nb = static_cast<int>(backends_.size());

    auto index_of_buffer = [&](const Tensor* t) -> int {
        const Tensor* r = root_of(t);
        if (!r->buffer) return -1;
        Backend* owner = &r->buffer->backend();
        for (int i = 0; i < nb; ++i)
            if (backends_[i] == owner) return i;
        return -1;
    };

    // 1. Placement.
    int cur = -1;  // backend of the previous compute node
    for (Tensor* t : g.nodes()) {
        int b = override_ ? override_(*t) : -1;
        if (b >= nb) throw Error(ErrorKind::InvalidArgument, "scheduler: placement override returned backend " + std::to_string(b));
        if (b < 0 && t->op == OpKind::View) b = std::max(cur, 0);
        if (b < 0 && t->op == OpKind::Cpy) {
            // A cache write runs where the destination lives (it cannot write through a copy):
            // the owner of its buffer, or a host backend for plain host memory.
            const int owner = index_of_buffer(t->src[1]);
            if (owner >= 0) {
                b = owner;
            } else {
                if (cur >= 0 && backends_[cur]->is_host() && backends_[cur]->supports_op(*t)) b = cur;
                for (int k = 0; k < nb && b < 0; ++k)
                    if (backends_[k]->is_host() && backends_[k]->supports_op(*t)) b = k;
            }
        }
        if (b < 0) {
            for (int i = 0; i < kMaxSrc && b < 0; ++i) {
                const Tensor* s = t->src[i];
                if (!s || root_of(s)->op != OpKind::None) continue;
                const int w = index_of_buffer(s);
                if (w >= 0 && backends_[w]->supports_op(*t)) b = w;
            }
        }
        if (b < 0 && cur >= 0 && backends_[cur]->supports_op(*t)) b = cur;
        for (int i = 0; i < nb && b < 0; ++i)
            if (backends_[i]->supports_op(*t)) b = i;
        if (b < 0) throw Error(ErrorKind::Unsupported, std::string("no backend supports op ") + op_name(t->op) + " of " + describe(*t));
        im.where[t] = b;
        if (t->op != OpKind::View && t->op != OpKind::Cpy) cur = b;  // cache writes do not drag placement
    }

    // 2. Splits, copies and the execution order.
    const auto& nodes = g.nodes();
    size_t i = 0;
    while (i < nodes.size()) {
        const int b = im.where[nodes[i]];
        size_t j = i + 1;
        while (j < nodes.size() && (im.where[nodes[j]] == b || nodes[j]->op == OpKind::View)) ++j;
        Impl::Split sp{b, im.order.size(), 0, 0};
        // Copies for sources produced by another backend.
        PtrMap<Tensor*>& copy_of = im.copy_of;
        copy_of.clear();
        for (size_t n = i; n < j; ++n) {
            Tensor* t = nodes[n];
            if (t->op == OpKind::View) continue;
            for (int k = 0; k < kMaxSrc; ++k) {
                Tensor* s = t->src[k];
                if (!s) continue;
                Tensor* r = s->view_src ? s->view_src : s;
                if (t->op == OpKind::Cpy && k == 1) continue;  // the destination is written in place
                if (r->op == OpKind::None && (!r->data || (r->flags & kFlagPlanned))) {
                    im.where.try_emplace(r, b);  // an input the planner places: with its first consumer
                }
                const int* wr = im.where.find(r);
                if (!wr) {
                    // A leaf with memory (weights, KV cache, caller-owned input): readable in place
                    // when it lives in this backend's buffer, or in host memory and b is a host backend.
                    const int lb = index_of_buffer(r);
                    const bool host_mem = lb < 0 ? r->buffer == nullptr || r->buffer->backend().is_host() : backends_[lb]->is_host();
                    if (lb == b || (host_mem && backends_[b]->is_host())) continue;
                } else if (*wr == b) {
                    continue;
                }
                Tensor*& c = copy_of[r];
                if (!c) {
                    c = im.copies.new_tensor(r->type, kMaxDims, r->ne);
                    std::memcpy(c->nb, r->nb, sizeof c->nb);
                    c->op = OpKind::Cont;
                    c->src[0] = r;
                    c->format_name("%s#copy%d", r->name, b);
                    im.where[c] = b;
                    im.order.push_back(c);
                }
                Tensor* repl = c;
                if (s != r) {  // re-create the view over the copy
                    repl = im.copies.new_node();
                    *repl = *s;
                    repl->src[0] = c;
                    repl->view_src = c;
                    repl->data = nullptr;
                    repl->buffer = nullptr;
                    im.where[repl] = b;
                    im.order.push_back(repl);
                }
                im.rewired.push_back({t, k, s});
                t->src[k] = repl;
            }
        }
        sp.nodes_begin = im.order.size();
        for (size_t n = i; n < j; ++n) im.order.push_back(nodes[n]);
        sp.end = im.order.size();
        im.splits.push_back(sp);
        i = j;
    }

    // Inputs (sources outside the order without memory) go to their first consumer's backend.
    for (Tensor* t : im.order)
        for (int k = 0; k < kMaxSrc; ++k) {
            Tensor* s = t->src[k];
            if (s && !s->view_src && (!s->data || (s->flags & kFlagPlanned)) && !im.where.contains(s)) {
                const int bt = *im.where.find(t);
                im.where[s] = bt;
            }
        }

    // 3. Memory: one plan per backend over the whole order.
    stats_ = SchedStats{};
    stats_.n_nodes = nodes.size();
    stats_.n_splits = im.splits.size();
    for (const auto& sp : im.splits) stats_.n_copies += sp.nodes_begin - sp.copies_begin;
    for (int b = 0; b < nb; ++b) {
        const PlanStats ps = im.planners[b]->plan(im.order, [&](const Tensor* t) {
            const int* w = im.where.find(t);
            return w && *w == b;
        });
        stats_.arena_bytes.push_back(ps.arena_bytes);
        stats_.arena_capacity.push_back(im.planners[b]->arena_capacity());
    }
    for (int b = 0; b < nb; ++b)  // arena tensors belong to that backend's buffer
        for (Tensor* t : im.order)
            if (const int* w = im.where.find(t); !t->view_src && im.arenas[b] && w && *w == b) t->buffer = im.arenas[b].get();
    MemoryPlanner::resolve_views(im.order);
    im.planned = &g;
    im.planned_version = g.version();
}

void Scheduler::compute(const Graph& g) {
    Impl& im = *impl_;
    struct Restore {
        Impl& im;
        ~Restore() { im.restore(); }
    } restore{im};
    plan_impl(g);
    run_splits();
}

void Scheduler::compute_again(const Graph& g) {
    Impl& im = *impl_;
    if (im.planned != &g || im.planned_version != g.version() || !im.ran_plan || stats_.n_copies > 0) return compute(g);
    for (const auto& sp : im.splits)
        backends_[sp.backend]->compute_again(std::span<Tensor* const>(im.order.data() + sp.nodes_begin, sp.end - sp.nodes_begin));
}

void Scheduler::run_splits() {
    Impl& im = *impl_;
    for (const auto& sp : im.splits) {
        Backend& dst_be = *backends_[sp.backend];
        for (size_t n = sp.copies_begin; n < sp.nodes_begin; ++n) {
            Tensor* c = im.order[n];
            if (c->op != OpKind::Cont) continue;  // a view of a copy
            const Tensor* r = c->src[0];
            // Where the source lives: its scheduled backend, its buffer's backend, or host memory.
            Backend* src_be = nullptr;
            if (const int* w = im.where.find(r))
                src_be = backends_[*w];
            else if (r->buffer)
                src_be = &r->buffer->backend();
            const size_t bytes = r->nbytes();
            if (!src_be || src_be->is_host()) {
                dst_be.set_tensor(*c, r->data, 0, bytes);
            } else if (dst_be.is_host()) {
                src_be->get_tensor(*r, c->data, 0, bytes);
            } else {
                im.staging.resize(bytes);
                src_be->get_tensor(*r, im.staging.data(), 0, bytes);
                dst_be.set_tensor(*c, im.staging.data(), 0, bytes);
            }
        }
        dst_be.compute(std::span<Tensor* const>(im.order.data() + sp.nodes_begin, sp.end - sp.nodes_begin));
    }
    im.ran_plan = true;
}

}  // namespace hearth
