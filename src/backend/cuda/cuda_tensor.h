// The plain-data view of a tensor that CUDA kernels take by value: a device pointer plus the
// ggml-style shape (ne[0] innermost) and byte strides. Shared by the host launchers (.cpp) and the
// kernels (.cu), so it includes nothing CUDA-specific.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace hearth::cuda {

struct TensorArg {
    char* data = nullptr;  // device memory
    uint32_t type = 0;     // DType id
    int64_t ne[4] = {1, 1, 1, 1};
    int64_t nb[4] = {0, 0, 0, 0};  // byte strides
};

inline TensorArg arg_of(const Tensor& t) {
    TensorArg a;
    a.data = static_cast<char*>(t.data);
    a.type = static_cast<uint32_t>(t.type);
    for (int i = 0; i < 4; ++i) a.ne[i] = t.ne[i], a.nb[i] = int64_t(t.nb[i]);
    return a;
}

}  // namespace hearth::cuda
