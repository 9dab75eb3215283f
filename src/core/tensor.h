// The tensor: a typed, up-to-4-D strided array that is also a node of a compute graph (an op, its
// sources and parameters). Tensors are created by hearth::Context (core/context.h) and wired into
// graphs by the op builders in core/ops.h; backends compute them (backend/backend.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "quant/dtype.h"

namespace hearth {

class BackendBuffer;  // backend/backend.h; core only carries the pointer

constexpr int kMaxDims = 4;
constexpr int kMaxSrc = 4;        // flash_attn uses q, k, v, mask
constexpr int kMaxOpParams = 16;  // int32 slots; floats are stored bit-cast (param_f / set_param_f)
constexpr int kMaxName = 64;

// Every operation a graph node can carry. Shapes use ggml's convention: ne[0] is the innermost,
// contiguous dimension, so a matrix of n_tokens rows of n_embd values is ne = [n_embd, n_tokens].
// Exact shape rules and parameters are documented on the builder functions in core/ops.h.
enum class OpKind : uint8_t {
    None,       // leaf: weights, inputs, KV cache (data set by its owner or by the planner)
    View,       // view / reshape / permute / transpose: shares view_src's memory, computes nothing
    GetRows,    // table[:, ids] -> F32
    MulMat,     // weights (any dequantizable type) x F32 activations -> F32
    Add,        // a + b, b broadcast (b->ne[i] divides a->ne[i])
    Mul,        // a * b, same broadcasting
    Div,        // a / b, same broadcasting
    Scale,      // a * s
    Softcap,    // cap * tanh(a / cap)
    RmsNorm,    // a / sqrt(mean(a^2) + eps) per row
    LayerNorm,  // (a - mean) / sqrt(var + eps) per row
    Rope,       // rotary position embedding (normal / NeoX, YaRN)
    SoftMax,    // softmax(a * scale + mask) per row
    Silu,
    Gelu,       // tanh approximation
    GeluErf,    // exact erf form
    Tanh,
    Swiglu,     // silu(a) * b
    Geglu,      // gelu(a) * b (tanh approximation)
    FlashAttn,  // fused softmax(q k^T * scale + mask) v with online softmax
    Cpy,        // copy/convert src into dst (a view, e.g. of the KV cache); the node aliases dst
    Cont,       // contiguous copy of a (possibly strided) tensor
    Concat,     // a ++ b along one dimension
    Argmax,     // index of the largest value of each row -> I32
    Count,      // number of ops (keep last)
};

const char* op_name(OpKind op);

// Flags a caller sets on tensors (Tensor::flags).
enum TensorFlag : uint32_t {
    kFlagInput = 1u << 0,   // leaf whose data the caller writes before compute (tokens, positions,
                            // mask); the planner allocates it if data == nullptr
    kFlagOutput = 1u << 1,  // result read after compute: never overwritten by the planner's reuse
    kFlagWeight = 1u << 2,  // model parameter (data owned by the loader / a backend buffer)
    kFlagPlanned = 1u << 3, // set by MemoryPlanner: data points into its arena and is re-planned
                            // by every plan (tensors without it that have data are left alone)
};

struct Tensor {
    DType type = DType::F32;
    // ne[i]: number of elements along dim i (unused dims are 1).
    // nb[i]: byte stride of dim i. For a fresh tensor nb[0] = element (block) size,
    // nb[1] = row bytes (dtype_row_bytes(type, ne[0])), nb[2] = nb[1]*ne[1], nb[3] = nb[2]*ne[2].
    // For block-quantized types a "row" is the unit of addressing; views never split blocks.
    int64_t ne[kMaxDims] = {1, 1, 1, 1};
    size_t nb[kMaxDims] = {0, 0, 0, 0};

    OpKind op = OpKind::None;
    int32_t op_params[kMaxOpParams] = {};
    Tensor* src[kMaxSrc] = {};

    // Views (op == View, and Cpy which aliases its destination): data = view_src->data + view_offset.
    // view_src is always the ultimate owner of the memory (never itself a view).
    Tensor* view_src = nullptr;
    size_t view_offset = 0;

    void* data = nullptr;             // host-addressable for host backends; set by owner/planner
    BackendBuffer* buffer = nullptr;  // the backend buffer holding data; nullptr = plain host memory
    uint32_t flags = 0;
    char name[kMaxName] = {};

    // ---- shape helpers ----
    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
    size_t row_bytes() const { return dtype_row_bytes(type, ne[0]); }
    // Bytes spanned by the tensor in memory (from its first to one past its last byte).
    size_t nbytes() const;
    // Rows are packed back to back and elements within rows are packed (the layout of a fresh tensor).
    bool is_contiguous() const;
    // Like is_contiguous, but only the elements within a row must be packed (rows may be strided).
    bool rows_contiguous() const;
    bool is_view() const { return view_src != nullptr; }
    bool same_shape(const Tensor& o) const;

    // Pointer to element row (i1, i2, i3): data + i1*nb[1] + i2*nb[2] + i3*nb[3].
    char* row_ptr(int64_t i1, int64_t i2 = 0, int64_t i3 = 0) const {
        return static_cast<char*>(data) + i1 * nb[1] + i2 * nb[2] + i3 * nb[3];
    }

    // ---- op parameters ----
    int32_t param_i(int i) const { return op_params[i]; }
    float param_f(int i) const {
        float f;
        std::memcpy(&f, &op_params[i], sizeof f);
        return f;
    }
    void set_param_i(int i, int32_t v) { op_params[i] = v; }
    void set_param_f(int i, float v) { std::memcpy(&op_params[i], &v, sizeof v); }

    // ---- naming (every intermediate is named, e.g. "blk.3.attn_norm") ----
    Tensor* set_name(const char* n);
    Tensor* format_name(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

// Fill nb[] for a freshly laid-out (contiguous) tensor of t.type and t.ne.
void set_contiguous_strides(Tensor& t);

// "f32 [256, 7, 1, 1]" style description for messages and dumps.
std::string describe(const Tensor& t);

}  // namespace hearth
