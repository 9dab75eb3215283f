// hearth::Context owns the Tensor objects of one graph build (weights' descriptors, inputs, op
// nodes). Storage is pooled in fixed chunks: pointers stay valid until reset(), and reset() keeps
// the chunks, so rebuilding the same-shaped graph every decode step allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace hearth {

class Context {
public:
    Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // A fresh leaf with contiguous strides and no data (data == nullptr). 1 to 4 dims.
    // Throws InvalidArgument for a negative dim, more than 4 dims, or ne[0] not a multiple of the
    // type's block size.
    Tensor* new_tensor(DType type, std::initializer_list<int64_t> ne, const char* name = nullptr);
    Tensor* new_tensor(DType type, int n_dims, const int64_t* ne, const char* name = nullptr);

    // A blank Tensor (all defaults) for op builders; callers normally use ops.h instead.
    Tensor* new_node();

    // Host memory owned by this context for t (t.nbytes() bytes, 64-byte aligned, zeroed), kept
    // until the context is destroyed (NOT freed by reset(); meant for tests, tools and small
    // persistent leaves — graph intermediates get memory from the planner instead).
    void* alloc_data(Tensor* t);

    // Forget every tensor (pointers become invalid); keeps pooled storage.
    void reset();
    size_t n_tensors() const { return count_; }

private:
    static constexpr size_t kChunk = 512;
    std::vector<std::unique_ptr<Tensor[]>> chunks_;
    size_t count_ = 0;
    struct FreeDeleter {
        void operator()(void* p) const;
    };
    std::vector<std::unique_ptr<void, FreeDeleter>> owned_data_;
};

}  // namespace hearth
