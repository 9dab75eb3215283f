// Op builders: validate sources (types, shapes, broadcast rules) and create result nodes.
// Computation lives in the backends; this file only wires the graph.
#include "core/ops.h"

#include <string>
#include <type_traits>

#include "core/error.h"

namespace hearth::ops {
namespace {

// Block formats a KV cache may hold (cpy quantizes rows into them; flash_attn reads them).
bool is_kv_block_type(DType t) {
    switch (t) {
        case DType::Q8_0: case DType::Q5_0: case DType::Q5_1: case DType::Q4_0: case DType::Q4_1: case DType::IQ4_NL: return true;
        default: return false;
    }
}

[[noreturn]] void fail(const char* op, const std::string& what) {
    throw Error(ErrorKind::InvalidArgument, std::string(op) + ": " + what);
}

// need(cond, op, parts...): the message parts (string literals, tensors — printed by describe() —
// and integers) are only formatted when cond fails, so a graph build formats nothing.
void append_part(std::string& s, const char* p) {
    s += p;
}
void append_part(std::string& s, const Tensor* t) {
    s += describe(*t);
}
template <class Int, std::enable_if_t<std::is_integral_v<Int>, int> = 0>
void append_part(std::string& s, Int v) {
    s += std::to_string(v);
}

template <class... Parts>
void need(bool cond, const char* op, const Parts&... parts) {
    if (cond) [[likely]]
        return;
    std::string what;
    (append_part(what, parts), ...);
    fail(op, what);
}

void need_src(const Tensor* t, const char* op, const char* role) {
    if (!t) fail(op, std::string("missing ") + role + " tensor");
}

void need_f32(const Tensor* t, const char* op, const char* role) {
    if (t->type != DType::F32) fail(op, std::string(role) + " must be f32, got " + describe(*t));
}

Tensor* new_result(Context& ctx, DType type, const int64_t ne[4], OpKind op) {
    Tensor* t = ctx.new_node();
    t->type = type;
    for (int i = 0; i < kMaxDims; ++i) t->ne[i] = ne[i];
    set_contiguous_strides(*t);
    t->op = op;
    return t;
}

Tensor* unary(Context& ctx, Tensor* a, OpKind op, const char* name) {
    need_src(a, name, "input");
    need_f32(a, name, "input");
    Tensor* t = new_result(ctx, DType::F32, a->ne, op);
    t->src[0] = a;
    return t;
}

Tensor* binary_broadcast(Context& ctx, Tensor* a, Tensor* b, OpKind op, const char* name) {
    need_src(a, name, "a");
    need_src(b, name, "b");
    need_f32(a, name, "a");
    need_f32(b, name, "b");
    for (int i = 0; i < kMaxDims; ++i)
        need(b->ne[i] > 0 && a->ne[i] % b->ne[i] == 0, name, "cannot broadcast ", b, " over ", a);
    Tensor* t = new_result(ctx, DType::F32, a->ne, op);
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

Tensor* make_view(Context& ctx, Tensor* a, const int64_t ne[4], const size_t nb[4], size_t offset, const char* name) {
    need_src(a, name, "source");
    Tensor* root = a->view_src ? a->view_src : a;
    Tensor* t = ctx.new_node();
    t->type = a->type;
    for (int i = 0; i < kMaxDims; ++i) {
        need(ne[i] >= 0, name, "negative dimension");
        t->ne[i] = ne[i];
        t->nb[i] = nb[i];
    }
    const DTypeTraits& tr = dtype_traits(a->type);
    need(ne[0] % tr.block_elems == 0, name, "view would split a quantization block of ", a);
    t->op = OpKind::View;
    t->src[0] = a;
    t->view_src = root;
    t->view_offset = a->view_offset + offset;
    const size_t root_bytes = root->nbytes();
    need(t->view_offset + t->nbytes() <= root_bytes, name, "view [offset ", t->view_offset, ", ", t->nbytes(),
         " bytes] exceeds the ", root_bytes, " bytes of ", root);
    if (root->data) t->data = static_cast<char*>(root->data) + t->view_offset;
    t->buffer = root->buffer;
    return t;
}

}  // namespace

Tensor* view_1d(Context& ctx, Tensor* a, int64_t ne0, size_t offset) {
    need_src(a, "view_1d", "source");
    const int64_t ne[4] = {ne0, 1, 1, 1};
    need(ne0 >= 0 && ne0 % dtype_traits(a->type).block_elems == 0, "view_1d", "view would split a quantization block");
    const size_t rb = dtype_row_bytes(a->type, ne0);
    const size_t nb[4] = {a->nb[0], rb, rb, rb};
    return make_view(ctx, a, ne, nb, offset, "view_1d");
}

Tensor* view_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset) {
    const int64_t ne[4] = {ne0, ne1, 1, 1};
    need_src(a, "view_2d", "source");
    const size_t nb[4] = {a->nb[0], nb1, nb1 * static_cast<size_t>(ne1), nb1 * static_cast<size_t>(ne1)};
    return make_view(ctx, a, ne, nb, offset, "view_2d");
}

Tensor* view_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2,
                size_t offset) {
    const int64_t ne[4] = {ne0, ne1, ne2, 1};
    need_src(a, "view_3d", "source");
    const size_t nb[4] = {a->nb[0], nb1, nb2, nb2 * static_cast<size_t>(ne2)};
    return make_view(ctx, a, ne, nb, offset, "view_3d");
}

Tensor* view_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1, size_t nb2,
                size_t nb3, size_t offset) {
    const int64_t ne[4] = {ne0, ne1, ne2, ne3};
    need_src(a, "view_4d", "source");
    const size_t nb[4] = {a->nb[0], nb1, nb2, nb3};
    return make_view(ctx, a, ne, nb, offset, "view_4d");
}

Tensor* reshape(Context& ctx, Tensor* a, std::initializer_list<int64_t> dims) {
    need_src(a, "reshape", "source");
    need(a->is_contiguous(), "reshape", "source must be contiguous: ", a);
    need(dims.size() >= 1 && dims.size() <= 4, "reshape", "1 to 4 dimensions");
    int64_t ne[4] = {1, 1, 1, 1};
    int n = 0;
    for (int64_t v : dims) ne[n++] = v;
    need(ne[0] * ne[1] * ne[2] * ne[3] == a->nelements(), "reshape", "element count differs from ", a);
    Tensor tmp;
    tmp.type = a->type;
    for (int i = 0; i < 4; ++i) tmp.ne[i] = ne[i];
    need(ne[0] % dtype_traits(a->type).block_elems == 0, "reshape", "new ne[0] splits a quantization block");
    set_contiguous_strides(tmp);
    return make_view(ctx, a, tmp.ne, tmp.nb, 0, "reshape");
}

Tensor* permute(Context& ctx, Tensor* a, int axis0, int axis1, int axis2, int axis3) {
    need_src(a, "permute", "source");
    const int ax[4] = {axis0, axis1, axis2, axis3};
    bool used[4] = {};
    for (int i = 0; i < 4; ++i) {
        need(ax[i] >= 0 && ax[i] < 4 && !used[ax[i]], "permute", "axes must be a permutation of 0..3");
        used[ax[i]] = true;
    }
    need(dtype_traits(a->type).block_elems == 1 || ax[0] == 0, "permute", "cannot move dim 0 of a quantized tensor");
    int64_t ne[4];
    size_t nb[4];
    for (int i = 0; i < 4; ++i) {
        ne[ax[i]] = a->ne[i];
        nb[ax[i]] = a->nb[i];
    }
    // make_view takes nb[0] from a: build the view by hand so dim 0 may change.
    Tensor* t = make_view(ctx, a, a->ne, a->nb, 0, "permute");
    for (int i = 0; i < 4; ++i) {
        t->ne[i] = ne[i];
        t->nb[i] = nb[i];
    }
    return t;
}

Tensor* transpose(Context& ctx, Tensor* a) { return permute(ctx, a, 1, 0, 2, 3); }

Tensor* get_rows(Context& ctx, Tensor* table, Tensor* ids) {
    need_src(table, "get_rows", "table");
    need_src(ids, "get_rows", "ids");
    need(dtype_traits(table->type).can_dequantize, "get_rows", "no dequantizer for table type ",
         dtype_name(table->type));
    need(ids->type == DType::I32, "get_rows", "ids must be i32, got ", ids);
    need(ids->ne[2] == 1 && ids->ne[3] == 1, "get_rows", "ids must be 1-D or 2-D");
    need(table->ne[2] == 1 && table->ne[3] == 1, "get_rows", "table must be 2-D");
    need(table->rows_contiguous(), "get_rows", "table rows must be contiguous");
    const int64_t ne[4] = {table->ne[0], ids->ne[0], ids->ne[1], 1};
    Tensor* t = new_result(ctx, DType::F32, ne, OpKind::GetRows);
    t->src[0] = table;
    t->src[1] = ids;
    return t;
}

Tensor* cont(Context& ctx, Tensor* a) {
    need_src(a, "cont", "source");
    need(dtype_traits(a->type).block_elems == 1 && a->type != DType::F64 && a->type != DType::I64, "cont",
         "unsupported type ", dtype_name(a->type));
    Tensor* t = new_result(ctx, a->type, a->ne, OpKind::Cont);
    t->src[0] = a;
    return t;
}

Tensor* cpy(Context& ctx, Tensor* src, Tensor* dst) {
    need_src(src, "cpy", "source");
    need_src(dst, "cpy", "destination");
    need_f32(src, "cpy", "source");
    need(dst->type == DType::F32 || dst->type == DType::F16 || dst->type == DType::BF16 ||
             is_kv_block_type(dst->type),
         "cpy", "destination type ", dtype_name(dst->type),
         " not supported (f32, f16, bf16, q8_0, q5_0, q5_1, q4_0, q4_1, iq4_nl)");
    need(src->nelements() == dst->nelements(), "cpy", "element counts differ: ", src, " vs ", dst);
    if (is_kv_block_type(dst->type)) {  // whole rows are quantized: same row shape, packed source rows
        need(src->ne[0] == dst->ne[0] && src->ne[1] == dst->ne[1] && src->ne[2] == dst->ne[2] &&
                 src->ne[3] == dst->ne[3] && src->nb[0] == sizeof(float) &&
                 dst->ne[0] % int64_t(dtype_traits(dst->type).block_elems) == 0,
             "cpy",
             "a quantized destination needs the same shape as the source, element-contiguous source rows and "
             "whole blocks: ",
             src, " -> ", dst);
    }
    Tensor* root = dst->view_src ? dst->view_src : dst;
    Tensor* t = ctx.new_node();
    t->type = dst->type;
    for (int i = 0; i < 4; ++i) {
        t->ne[i] = dst->ne[i];
        t->nb[i] = dst->nb[i];
    }
    t->op = OpKind::Cpy;
    t->src[0] = src;
    t->src[1] = dst;
    t->view_src = root;
    t->view_offset = dst->view_offset;
    t->buffer = root->buffer;
    if (root->data) t->data = static_cast<char*>(root->data) + t->view_offset;
    return t;
}

Tensor* concat(Context& ctx, Tensor* a, Tensor* b, int dim) {
    need_src(a, "concat", "a");
    need_src(b, "concat", "b");
    need_f32(a, "concat", "a");
    need_f32(b, "concat", "b");
    need(dim >= 0 && dim < 4, "concat", "dim must be 0..3");
    int64_t ne[4];
    for (int i = 0; i < 4; ++i) {
        if (i == dim) {
            ne[i] = a->ne[i] + b->ne[i];
        } else {
            need(a->ne[i] == b->ne[i], "concat", "shapes differ outside dim: ", a, " vs ", b);
            ne[i] = a->ne[i];
        }
    }
    Tensor* t = new_result(ctx, DType::F32, ne, OpKind::Concat);
    t->src[0] = a;
    t->src[1] = b;
    t->set_param_i(0, dim);
    return t;
}

Tensor* argmax(Context& ctx, Tensor* a) {
    need_src(a, "argmax", "input");
    need_f32(a, "argmax", "input");
    need(a->ne[0] > 0, "argmax", "empty rows");
    const int64_t ne[4] = {a->nrows(), 1, 1, 1};
    Tensor* t = new_result(ctx, DType::I32, ne, OpKind::Argmax);
    t->src[0] = a;
    return t;
}

Tensor* mul_mat(Context& ctx, Tensor* w, Tensor* x) {
    need_src(w, "mul_mat", "weight");
    need_src(x, "mul_mat", "activation");
    need(dtype_traits(w->type).can_dequantize, "mul_mat", "no dequantizer for weight type ",
         dtype_name(w->type));
    need_f32(x, "mul_mat", "activation");
    need(w->ne[0] == x->ne[0], "mul_mat", "inner dimensions differ: ", w, " x ", x);
    need(w->ne[2] > 0 && w->ne[3] > 0 && x->ne[2] % w->ne[2] == 0 && x->ne[3] % w->ne[3] == 0, "mul_mat",
         "cannot broadcast ", w, " over ", x);
    need(w->rows_contiguous(), "mul_mat", "weight rows must be element-contiguous: ", w);
    need(x->rows_contiguous(), "mul_mat", "activation rows must be element-contiguous: ", x);
    const int64_t ne[4] = {w->ne[1], x->ne[1], x->ne[2], x->ne[3]};
    Tensor* t = new_result(ctx, DType::F32, ne, OpKind::MulMat);
    t->src[0] = w;
    t->src[1] = x;
    return t;
}

Tensor* add(Context& ctx, Tensor* a, Tensor* b) { return binary_broadcast(ctx, a, b, OpKind::Add, "add"); }
Tensor* mul(Context& ctx, Tensor* a, Tensor* b) { return binary_broadcast(ctx, a, b, OpKind::Mul, "mul"); }
Tensor* div(Context& ctx, Tensor* a, Tensor* b) { return binary_broadcast(ctx, a, b, OpKind::Div, "div"); }

Tensor* scale(Context& ctx, Tensor* a, float s) {
    Tensor* t = unary(ctx, a, OpKind::Scale, "scale");
    t->set_param_f(0, s);
    return t;
}

Tensor* softcap(Context& ctx, Tensor* a, float cap) {
    need(cap > 0.0f, "softcap", "cap must be > 0");
    Tensor* t = unary(ctx, a, OpKind::Softcap, "softcap");
    t->set_param_f(0, cap);
    return t;
}

Tensor* silu(Context& ctx, Tensor* a) { return unary(ctx, a, OpKind::Silu, "silu"); }
Tensor* gelu(Context& ctx, Tensor* a) { return unary(ctx, a, OpKind::Gelu, "gelu"); }
Tensor* gelu_erf(Context& ctx, Tensor* a) { return unary(ctx, a, OpKind::GeluErf, "gelu_erf"); }
Tensor* tanh(Context& ctx, Tensor* a) { return unary(ctx, a, OpKind::Tanh, "tanh"); }

static Tensor* gated(Context& ctx, Tensor* a, Tensor* b, OpKind op, const char* name) {
    need_src(a, name, "a");
    need_src(b, name, "b");
    need_f32(a, name, "a");
    need_f32(b, name, "b");
    need(a->same_shape(*b), name, "shapes differ: ", a, " vs ", b);
    Tensor* t = new_result(ctx, DType::F32, a->ne, op);
    t->src[0] = a;
    t->src[1] = b;
    return t;
}

Tensor* swiglu(Context& ctx, Tensor* a, Tensor* b) { return gated(ctx, a, b, OpKind::Swiglu, "swiglu"); }
Tensor* geglu(Context& ctx, Tensor* a, Tensor* b) { return gated(ctx, a, b, OpKind::Geglu, "geglu"); }

Tensor* rms_norm(Context& ctx, Tensor* a, float eps) {
    need(eps >= 0.0f, "rms_norm", "eps must be >= 0");
    Tensor* t = unary(ctx, a, OpKind::RmsNorm, "rms_norm");
    t->set_param_f(0, eps);
    return t;
}

Tensor* layer_norm(Context& ctx, Tensor* a, float eps) {
    need(eps >= 0.0f, "layer_norm", "eps must be >= 0");
    Tensor* t = unary(ctx, a, OpKind::LayerNorm, "layer_norm");
    t->set_param_f(0, eps);
    return t;
}

// op_params layout of Rope: [0] n_dims, [1] mode, [2] n_ctx_orig, [3] freq_base, [4] freq_scale,
// [5] ext_factor, [6] attn_factor, [7] beta_fast, [8] beta_slow.
Tensor* rope(Context& ctx, Tensor* x, Tensor* pos, const RopeParams& p) {
    need_src(x, "rope", "input");
    need_src(pos, "rope", "positions");
    need_f32(x, "rope", "input");
    need(pos->type == DType::I32, "rope", "positions must be i32, got ", pos);
    need(pos->ne[0] == x->ne[2] && pos->nelements() == pos->ne[0] && pos->is_contiguous(), "rope",
         "positions ", pos, " must be [n_tokens] for input ", x);
    need(x->ne[3] == 1, "rope", "input must be [head_dim, n_head, n_tokens]");
    need(p.n_dims > 0 && p.n_dims % 2 == 0 && p.n_dims <= x->ne[0], "rope", "n_dims ", p.n_dims,
         " must be even and <= head_dim ", x->ne[0]);
    need(p.mode == RopeMode::Normal || p.mode == RopeMode::NeoX, "rope", "mode must be normal (0) or neox (2)");
    need(p.freq_base > 0.0f && p.freq_scale > 0.0f, "rope", "freq_base and freq_scale must be > 0");
    need(x->rows_contiguous(), "rope", "input rows must be element-contiguous");
    Tensor* t = new_result(ctx, DType::F32, x->ne, OpKind::Rope);
    t->src[0] = x;
    t->src[1] = pos;
    t->set_param_i(0, p.n_dims);
    t->set_param_i(1, static_cast<int32_t>(p.mode));
    t->set_param_i(2, p.n_ctx_orig);
    t->set_param_f(3, p.freq_base);
    t->set_param_f(4, p.freq_scale);
    t->set_param_f(5, p.ext_factor);
    t->set_param_f(6, p.attn_factor);
    t->set_param_f(7, p.beta_fast);
    t->set_param_f(8, p.beta_slow);
    return t;
}

static void check_mask(const Tensor* mask, int64_t n_kv, int64_t n_q, const char* op) {
    if (!mask) return;
    need_f32(mask, op, "mask");
    need(mask->ne[0] == n_kv && mask->ne[1] >= n_q && mask->ne[2] == 1 && mask->ne[3] == 1, op, "mask ", mask,
         " must be [", n_kv, ", >= ", n_q, "]");
    need(mask->rows_contiguous(), op, "mask rows must be element-contiguous");
}

Tensor* soft_max(Context& ctx, Tensor* a, Tensor* mask, float scale) {
    Tensor* t = unary(ctx, a, OpKind::SoftMax, "soft_max");
    check_mask(mask, a->ne[0], a->ne[1], "soft_max");
    t->src[1] = mask;
    t->set_param_f(0, scale);
    return t;
}

Tensor* flash_attn(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask, float scale, float softcap) {
    need_src(q, "flash_attn", "q");
    need_src(k, "flash_attn", "k");
    need_src(v, "flash_attn", "v");
    need_f32(q, "flash_attn", "q");
    auto kv_type_ok = [](const Tensor* t) {
        return t->type == DType::F16 || t->type == DType::F32 || t->type == DType::BF16 || is_kv_block_type(t->type);
    };
    need(kv_type_ok(k) && kv_type_ok(v), "flash_attn", "k and v must be f32, f16, bf16, q8_0, q5_0, q5_1, q4_0, q4_1 or iq4_nl");
    need(k->ne[0] % int64_t(dtype_traits(k->type).block_elems) == 0 &&
             v->ne[0] % int64_t(dtype_traits(v->type).block_elems) == 0,
         "flash_attn", "quantized k/v rows must hold whole blocks: ", k, ", ", v);
    need(q->ne[3] == 1 && k->ne[3] == 1 && v->ne[3] == 1, "flash_attn", "4-D q/k/v are not supported");
    need(k->ne[0] == q->ne[0], "flash_attn", "head dim of k ", k, " differs from q ", q);
    need(v->ne[1] == k->ne[1] && v->ne[2] == k->ne[2], "flash_attn", "k ", k, " and v ", v, " disagree");
    need(k->ne[2] > 0 && q->ne[2] % k->ne[2] == 0, "flash_attn", "n_head must be a multiple of n_head_kv");
    need(q->rows_contiguous() && k->rows_contiguous() && v->rows_contiguous(), "flash_attn",
         "q/k/v rows must be element-contiguous");
    need(softcap >= 0.0f, "flash_attn", "softcap must be >= 0");
    check_mask(mask, k->ne[1], q->ne[1], "flash_attn");
    const int64_t ne[4] = {v->ne[0], q->ne[2], q->ne[1], 1};
    Tensor* t = new_result(ctx, DType::F32, ne, OpKind::FlashAttn);
    t->src[0] = q;
    t->src[1] = k;
    t->src[2] = v;
    t->src[3] = mask;
    t->set_param_f(0, scale);
    t->set_param_f(1, softcap);
    return t;
}

}  // namespace hearth::ops
