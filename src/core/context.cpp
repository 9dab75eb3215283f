// Context: pooled Tensor storage (chunks reused across reset()) and optional owned host data.
#include "core/context.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace hearth {

void Context::FreeDeleter::operator()(void* p) const { std::free(p); }

Tensor* Context::new_node() {
    const size_t chunk = count_ / kChunk;
    if (chunk == chunks_.size()) chunks_.push_back(std::make_unique<Tensor[]>(kChunk));
    Tensor* t = &chunks_[chunk][count_ % kChunk];
    *t = Tensor{};
    ++count_;
    return t;
}

Tensor* Context::new_tensor(DType type, int n_dims, const int64_t* ne, const char* name) {
    if (n_dims < 1 || n_dims > kMaxDims)
        throw Error(ErrorKind::InvalidArgument, "tensor must have 1 to 4 dimensions, got " + std::to_string(n_dims));
    const DTypeTraits* tr = dtype_traits_by_id(static_cast<uint32_t>(type));
    if (!tr) throw Error(ErrorKind::InvalidArgument, "unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
    for (int i = 0; i < n_dims; ++i)
        if (ne[i] < 0)
            throw Error(ErrorKind::InvalidArgument, std::string("negative dimension for tensor '") + (name ? name : "") + "'");
    if (ne[0] % tr->block_elems != 0)
        throw Error(ErrorKind::InvalidArgument, std::string("tensor '") + (name ? name : "") + "': ne[0]=" +
                                                    std::to_string(ne[0]) + " is not a multiple of the " + tr->name +
                                                    " block size " + std::to_string(tr->block_elems));
    Tensor* t = new_node();
    t->type = type;
    for (int i = 0; i < n_dims; ++i) t->ne[i] = ne[i];
    set_contiguous_strides(*t);
    if (name) t->set_name(name);
    return t;
}

Tensor* Context::new_tensor(DType type, std::initializer_list<int64_t> ne, const char* name) {
    int64_t dims[kMaxDims] = {1, 1, 1, 1};
    int n = 0;
    for (int64_t v : ne) {
        if (n == kMaxDims) throw Error(ErrorKind::InvalidArgument, "tensor must have at most 4 dimensions");
        dims[n++] = v;
    }
    return new_tensor(type, n, dims, name);
}

void* Context::alloc_data(Tensor* t) {
    const size_t bytes = t->nbytes();
    const size_t rounded = (bytes + 63) / 64 * 64 + 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw Error(ErrorKind::OutOfMemory, "cannot allocate " + std::to_string(bytes) + " bytes for tensor " + describe(*t));
    std::memset(p, 0, rounded);
    owned_data_.emplace_back(p);
    t->data = p;
    return p;
}

void Context::reset() { count_ = 0; }

}  // namespace hearth
