// The backend interface: a device that owns memory buffers and computes graph nodes. Small and
// virtual (like ggml's backend vtable): the scheduler (backend/scheduler.h) asks supports_op() to
// place nodes and calls compute() on runs of consecutive nodes; everything op-specific stays
// inside the backend's own switch. Only the CPU backend (backend/cpu/cpu_backend.h) exists now.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "core/tensor.h"

namespace hearth {

class Backend;

// A block of backend memory. Tensors placed in it point into [base(), base()+size()) and set
// Tensor::buffer to it, so the scheduler knows where weights live.
class BackendBuffer {
public:
    virtual ~BackendBuffer() = default;
    virtual void* base() = 0;
    virtual size_t size() const = 0;
    virtual Backend& backend() = 0;
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual const char* name() const = 0;
    // Tensor data in this backend's buffers is directly addressable by the CPU.
    virtual bool is_host() const = 0;

    // Memory for weights, KV cache or compute arenas. Throws Error(OutOfMemory) on failure.
    virtual std::unique_ptr<BackendBuffer> alloc_buffer(size_t bytes) = 0;
    // Alignment of tensor data the backend wants (planner arenas use it).
    virtual size_t alignment() const { return 64; }

    // Whether this backend can compute node (its op, types and layouts). Views always count as
    // supported (they compute nothing).
    virtual bool supports_op(const Tensor& node) const = 0;

    // Compute the nodes in order. Every node's and source's data is already assigned (views
    // resolved) and lives in memory this backend can read. Throws hearth::Error on bad input met
    // at compute time (e.g. a token id out of range).
    virtual void compute(std::span<Tensor* const> nodes) = 0;
    // Compute the very node list of the last compute() again (the scheduler's compute_again
    // contract: same nodes and memory; only caller-owned leaf data and views into those leaves
    // moved). A backend may reuse what it planned for that list; the default plans again.
    virtual void compute_again(std::span<Tensor* const> nodes) { compute(nodes); }

    // Host <-> tensor copies of `bytes` bytes at byte `offset` of t's memory (t contiguous).
    virtual void set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) = 0;
    virtual void get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) = 0;
};

}  // namespace hearth
