// bert (encoder: BERT, MiniLM, BGE, ...): token + absolute position + token-type(0) embeddings ->
// LayerNorm, then per layer non-causal attention (+biases) -> residual -> LayerNorm -> GELU FFN
// (+biases) -> residual -> LayerNorm (post-norm). No output head: the result is the hidden state.
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/graph.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::archs {

namespace {

// Binds `name` with the exact ggml-order shape; F32 required for vectors (norms and biases).
TensorRef bind(const gguf::File& f, const std::string& name, std::vector<int64_t> shape, bool required = true) {
    const gguf::TensorInfo* info = f.find_tensor(name);
    if (!info) {
        if (required) throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' is missing (bert)");
        return {};
    }
    for (size_t i = 0; i < 4; ++i)
        if (info->ne[i] != (i < shape.size() ? shape[i] : 1))
            throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' dimension " + std::to_string(i) + " is " + std::to_string(info->ne[i]) +
                                                    " but the bert hyper-parameters need " + std::to_string(i < shape.size() ? shape[i] : 1));
    if (!dtype_traits(info->type).can_dequantize)
        throw Error(ErrorKind::Unsupported, "tensor '" + name + "' has a type hearth cannot compute with");
    if (shape.size() == 1 && info->type != DType::F32)
        throw Error(ErrorKind::Unsupported, "tensor '" + name + "' must be f32, found " + dtype_name(info->type));
    TensorRef r;
    r.name = info->name.c_str();
    r.data = f.tensor_data(*info);
    r.type = info->type;
    for (int i = 0; i < 4; ++i) r.ne[i] = info->ne[i];
    r.row_bytes = dtype_row_bytes(info->type, info->ne[0]);
    return r;
}

// LayerNorm with weight and bias: (x - mean) / sqrt(var + eps) * w + b, per row of [n_embd, T].
Tensor* layer_norm(GraphBuilder& g, Tensor* x, const TensorRef& w, const TensorRef& b, const char* name, int il) {
    Tensor* n = ops::layer_norm(g.ctx, x, g.hp.norm_eps);
    n = ops::mul(g.ctx, n, g.weight(w));
    return g.cb(ops::add(g.ctx, n, g.weight(b)), name, il);
}

const int32_t kTypeZero = 0;  // every token has token type 0 (single-segment inputs)

}  // namespace

ModelWeights load_bert(const gguf::File& f, HParams& hp) {
    if (auto eps = f.get_float("bert.attention.layer_norm_epsilon")) {
        if (!(*eps > 0.0 && *eps < 1.0)) throw Error(ErrorKind::InvalidFile, "'bert.attention.layer_norm_epsilon' must be in (0, 1)");
        hp.norm_eps = float(*eps);
    } else {
        hp.norm_eps = 1e-12f;
    }
    if (hp.n_head_kv != hp.n_head) throw Error(ErrorKind::InvalidFile, "bert: head_count_kv must equal head_count");
    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te) throw Error(ErrorKind::InvalidFile, "tensor 'token_embd.weight' is missing (token embeddings)");
    if (hp.n_vocab == 0) hp.n_vocab = te->ne[1];
    ModelWeights w;
    const int64_t E = hp.n_embd, F = hp.n_ff;
    w.tok_embd = bind(f, "token_embd.weight", {E, hp.n_vocab});
    w.pos_embd = bind(f, "position_embd.weight", {E, hp.n_ctx_train});
    const gguf::TensorInfo* tt = f.find_tensor("token_types.weight");
    w.tok_types = bind(f, "token_types.weight", {E, tt ? tt->ne[1] : 2});
    w.tok_norm = bind(f, "token_embd_norm.weight", {E});
    w.tok_norm_b = bind(f, "token_embd_norm.bias", {E});
    w.layers.resize(size_t(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[size_t(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        l.wq = bind(f, p + "attn_q.weight", {E, hp.n_embd_q()});
        l.wk = bind(f, p + "attn_k.weight", {E, hp.n_embd_k_gqa()});
        l.wv = bind(f, p + "attn_v.weight", {E, hp.n_embd_v_gqa()});
        l.bq = bind(f, p + "attn_q.bias", {hp.n_embd_q()}, false);
        l.bk = bind(f, p + "attn_k.bias", {hp.n_embd_k_gqa()}, false);
        l.bv = bind(f, p + "attn_v.bias", {hp.n_embd_v_gqa()}, false);
        l.wo = bind(f, p + "attn_output.weight", {hp.n_head * hp.head_dim_v, E});
        l.bo = bind(f, p + "attn_output.bias", {E}, false);
        l.attn_out_norm = bind(f, p + "attn_output_norm.weight", {E});
        l.attn_out_norm_b = bind(f, p + "attn_output_norm.bias", {E});
        l.ffn_up = bind(f, p + "ffn_up.weight", {E, F});
        l.ffn_up_b = bind(f, p + "ffn_up.bias", {F}, false);
        l.ffn_down = bind(f, p + "ffn_down.weight", {F, E});
        l.ffn_down_b = bind(f, p + "ffn_down.bias", {E}, false);
        l.layer_out_norm = bind(f, p + "layer_output_norm.weight", {E});
        l.layer_out_norm_b = bind(f, p + "layer_output_norm.bias", {E});
    }
    return w;
}

void build_bert(GraphBuilder& g) {
    Context& ctx = g.ctx;
    const ModelWeights& w = g.w;
    // Embeddings [n_embd, T]: token rows + position rows + the type-0 row (broadcast).
    Tensor* x = g.cb(ops::get_rows(ctx, g.weight(w.tok_embd), g.inp_tokens), "inp_embd", -1);
    x = ops::add(ctx, x, ops::get_rows(ctx, g.weight(w.pos_embd), g.inp_pos));
    Tensor* type_id = ctx.new_tensor(DType::I32, {1}, "type_zero");
    type_id->data = const_cast<int32_t*>(&kTypeZero);  // read-only constant, never written
    type_id->flags |= kFlagWeight;
    x = ops::add(ctx, x, ops::get_rows(ctx, g.weight(w.tok_types), type_id));  // [n_embd, 1] broadcast
    x = layer_norm(g, x, w.tok_norm, w.tok_norm_b, "inp_norm", -1);

    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.attention(x, il);  // biases added inside; no rope; non-causal mask
        if (L.bo) cur = ops::add(ctx, cur, g.weight(L.bo));
        x = layer_norm(g, g.add(cur, x, "attn_res", il), L.attn_out_norm, L.attn_out_norm_b, "attn_out_norm", il);
        cur = ops::mul_mat(ctx, g.weight(L.ffn_up), x);  // [n_ff, T]
        if (L.ffn_up_b) cur = ops::add(ctx, cur, g.weight(L.ffn_up_b));
        cur = g.cb(ops::gelu_erf(ctx, cur), "ffn_gelu", il);
        cur = ops::mul_mat(ctx, g.weight(L.ffn_down), cur);  // [n_embd, T]
        if (L.ffn_down_b) cur = ops::add(ctx, cur, g.weight(L.ffn_down_b));
        x = layer_norm(g, g.add(cur, x, "ffn_res", il), L.layer_out_norm, L.layer_out_norm_b, "l_out", il);
    }
    x = g.select_outputs(x);  // [n_embd, n_outputs]
    g.cb(x, "result_norm", -1);
    x->flags |= kFlagOutput;
    g.result_norm = x;
    g.result = x;
}

}  // namespace hearth::archs
