// Tensor helpers: op names, byte extents, contiguity tests, naming and a printable description.
#include "core/tensor.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace hearth {

const char* op_name(OpKind op) {
    switch (op) {
        case OpKind::None: return "none";
        case OpKind::View: return "view";
        case OpKind::GetRows: return "get_rows";
        case OpKind::MulMat: return "mul_mat";
        case OpKind::Add: return "add";
        case OpKind::Mul: return "mul";
        case OpKind::Div: return "div";
        case OpKind::Scale: return "scale";
        case OpKind::Softcap: return "softcap";
        case OpKind::RmsNorm: return "rms_norm";
        case OpKind::LayerNorm: return "layer_norm";
        case OpKind::Rope: return "rope";
        case OpKind::SoftMax: return "soft_max";
        case OpKind::Silu: return "silu";
        case OpKind::Gelu: return "gelu";
        case OpKind::GeluErf: return "gelu_erf";
        case OpKind::Tanh: return "tanh";
        case OpKind::Swiglu: return "swiglu";
        case OpKind::Geglu: return "geglu";
        case OpKind::FlashAttn: return "flash_attn";
        case OpKind::Cpy: return "cpy";
        case OpKind::Cont: return "cont";
        case OpKind::Concat: return "concat";
        case OpKind::Argmax: return "argmax";
        case OpKind::Count: break;
    }
    return "?";
}

size_t Tensor::nbytes() const {
    for (int i = 0; i < kMaxDims; ++i)
        if (ne[i] <= 0) return 0;
    const DTypeTraits& tr = dtype_traits(type);
    // First row spans row_bytes; every further index along dims 1..3 adds its stride.
    size_t bytes = static_cast<size_t>(ne[0] / tr.block_elems) * tr.block_bytes;
    if (tr.block_elems == 1) bytes = static_cast<size_t>(ne[0] - 1) * nb[0] + tr.block_bytes;
    for (int i = 1; i < kMaxDims; ++i) bytes += static_cast<size_t>(ne[i] - 1) * nb[i];
    return bytes;
}

bool Tensor::rows_contiguous() const {
    const DTypeTraits& tr = dtype_traits(type);
    return tr.block_elems > 1 || nb[0] == tr.block_bytes || ne[0] == 1;
}

bool Tensor::is_contiguous() const {
    if (!rows_contiguous()) return false;
    size_t expect = row_bytes();
    for (int i = 1; i < kMaxDims; ++i) {
        if (ne[i] != 1 && nb[i] != expect) return false;
        expect *= static_cast<size_t>(ne[i]);
    }
    return true;
}

bool Tensor::same_shape(const Tensor& o) const {
    for (int i = 0; i < kMaxDims; ++i)
        if (ne[i] != o.ne[i]) return false;
    return true;
}

Tensor* Tensor::set_name(const char* n) {
    // (a plain truncating copy: graph builds name every node, snprintf was visible per token)
    size_t len = 0;
    if (n)
        while (len + 1 < sizeof name && n[len]) ++len;
    if (len) std::memcpy(name, n, len);
    name[len] = '\0';
    return this;
}

Tensor* Tensor::format_name(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return this;
}

void set_contiguous_strides(Tensor& t) {
    const DTypeTraits& tr = dtype_traits(t.type);
    t.nb[0] = tr.block_bytes;
    t.nb[1] = static_cast<size_t>(t.ne[0] / tr.block_elems) * tr.block_bytes;
    for (int i = 2; i < kMaxDims; ++i) t.nb[i] = t.nb[i - 1] * static_cast<size_t>(t.ne[i - 1]);
}

std::string describe(const Tensor& t) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s [%lld, %lld, %lld, %lld]", dtype_name(t.type), static_cast<long long>(t.ne[0]),
                  static_cast<long long>(t.ne[1]), static_cast<long long>(t.ne[2]), static_cast<long long>(t.ne[3]));
    std::string s = buf;
    if (t.name[0]) s = std::string("'") + t.name + "' " + s;
    return s;
}

}  // namespace hearth
