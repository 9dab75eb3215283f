// bert (encoder: BERT, MiniLM, BGE, cross-encoders, ...): token + absolute position + token-type
// embeddings -> LayerNorm, then per layer non-causal attention (+biases) -> residual -> LayerNorm ->
// GELU FFN (+biases) -> residual -> LayerNorm (post-norm). No LM head: the result is the hidden state.
// Also defines the encoder blocks of archs/encoder.h (shared with nomic-bert).
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/archs/encoder.h"
#include "model/graph.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::archs {

TensorRef bind_encoder_tensor(const gguf::File& f, const std::string& name, std::vector<int64_t> shape, const char* arch, bool required) {
    const gguf::TensorInfo* info = f.find_tensor(name);
    if (!info) {
        if (required) throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' is missing (" + arch + ")");
        return {};
    }
    for (size_t i = 0; i < 4; ++i)
        if (info->ne[i] != (i < shape.size() ? shape[i] : 1))
            throw Error(ErrorKind::InvalidFile, "tensor '" + name + "' dimension " + std::to_string(i) + " is " + std::to_string(info->ne[i]) +
                                                    " but the " + arch + " hyper-parameters need " +
                                                    std::to_string(i < shape.size() ? shape[i] : 1));
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

void read_encoder_eps(const gguf::File& f, const std::string& arch, float& eps) {
    const std::string key = arch + ".attention.layer_norm_epsilon";
    if (auto v = f.get_float(key)) {
        if (!(*v > 0.0 && *v < 1.0)) throw Error(ErrorKind::InvalidFile, "'" + key + "' must be in (0, 1)");
        eps = float(*v);
    } else {
        eps = 1e-12f;
    }
}

Tensor* encoder_layer_norm(GraphBuilder& g, Tensor* x, const TensorRef& w, const TensorRef& b, const char* name, int il) {
    Tensor* n = ops::layer_norm(g.ctx, x, g.hp.norm_eps);
    n = ops::mul(g.ctx, n, g.weight(w));
    return g.cb(ops::add(g.ctx, n, g.weight(b)), name, il);
}

void encoder_output(GraphBuilder& g, Tensor* x) {
    x = g.select_outputs(x);  // [n_embd, n_outputs]
    g.cb(x, "result_norm", -1);
    x->flags |= kFlagOutput;
    g.result_norm = x;
    g.result = x;
}

Tensor* encoder_embeddings(GraphBuilder& g) {
    Context& ctx = g.ctx;
    const ModelWeights& w = g.w;
    HEARTH_ASSERT(g.inp_types != nullptr);  // created whenever token_types is bound
    // [n_embd, T]: token rows + per-token type rows (+ position rows).
    Tensor* x = g.cb(ops::get_rows(ctx, g.weight(w.tok_embd), g.inp_tokens), "inp_embd", -1);
    if (w.pos_embd) x = ops::add(ctx, x, ops::get_rows(ctx, g.weight(w.pos_embd), g.inp_pos));
    x = g.cb(ops::add(ctx, x, ops::get_rows(ctx, g.weight(w.tok_types), g.inp_types)), "inp_typed", -1);
    return encoder_layer_norm(g, x, w.tok_norm, w.tok_norm_b, "inp_norm", -1);
}

ModelWeights load_bert(const gguf::File& f, HParams& hp) {
    read_encoder_eps(f, "bert", hp.norm_eps);
    if (hp.n_head_kv != hp.n_head) throw Error(ErrorKind::InvalidFile, "bert: head_count_kv must equal head_count");
    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te) throw Error(ErrorKind::InvalidFile, "tensor 'token_embd.weight' is missing (token embeddings)");
    if (hp.n_vocab == 0) hp.n_vocab = te->ne[1];
    const auto bind = [&](const std::string& name, std::vector<int64_t> shape, bool required = true) {
        return bind_encoder_tensor(f, name, std::move(shape), "bert", required);
    };
    ModelWeights w;
    const int64_t E = hp.n_embd, F = hp.n_ff;
    w.tok_embd = bind("token_embd.weight", {E, hp.n_vocab});
    w.pos_embd = bind("position_embd.weight", {E, hp.n_ctx_train});
    const gguf::TensorInfo* tt = f.find_tensor("token_types.weight");
    w.tok_types = bind("token_types.weight", {E, tt ? tt->ne[1] : 2});
    w.tok_norm = bind("token_embd_norm.weight", {E});
    w.tok_norm_b = bind("token_embd_norm.bias", {E});
    w.layers.resize(size_t(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[size_t(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        l.wq = bind(p + "attn_q.weight", {E, hp.n_embd_q()});
        l.wk = bind(p + "attn_k.weight", {E, hp.n_embd_k_gqa()});
        l.wv = bind(p + "attn_v.weight", {E, hp.n_embd_v_gqa()});
        l.bq = bind(p + "attn_q.bias", {hp.n_embd_q()}, false);
        l.bk = bind(p + "attn_k.bias", {hp.n_embd_k_gqa()}, false);
        l.bv = bind(p + "attn_v.bias", {hp.n_embd_v_gqa()}, false);
        l.wo = bind(p + "attn_output.weight", {hp.n_head * hp.head_dim_v, E});
        l.bo = bind(p + "attn_output.bias", {E}, false);
        l.attn_out_norm = bind(p + "attn_output_norm.weight", {E});
        l.attn_out_norm_b = bind(p + "attn_output_norm.bias", {E});
        l.ffn_up = bind(p + "ffn_up.weight", {E, F});
        l.ffn_up_b = bind(p + "ffn_up.bias", {F}, false);
        l.ffn_down = bind(p + "ffn_down.weight", {F, E});
        l.ffn_down_b = bind(p + "ffn_down.bias", {E}, false);
        l.layer_out_norm = bind(p + "layer_output_norm.weight", {E});
        l.layer_out_norm_b = bind(p + "layer_output_norm.bias", {E});
    }
    return w;
}

void build_bert(GraphBuilder& g) {
    Context& ctx = g.ctx;
    Tensor* x = encoder_embeddings(g);  // [n_embd, T]
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.attention(x, il);  // biases added inside; no rope; non-causal mask
        if (L.bo) cur = ops::add(ctx, cur, g.weight(L.bo));
        x = encoder_layer_norm(g, g.add(cur, x, "attn_res", il), L.attn_out_norm, L.attn_out_norm_b, "attn_out_norm", il);
        cur = ops::mul_mat(ctx, g.weight(L.ffn_up), x);  // [n_ff, T]
        if (L.ffn_up_b) cur = ops::add(ctx, cur, g.weight(L.ffn_up_b));
        cur = g.cb(ops::gelu_erf(ctx, cur), "ffn_gelu", il);
        cur = ops::mul_mat(ctx, g.weight(L.ffn_down), cur);  // [n_embd, T]
        if (L.ffn_down_b) cur = ops::add(ctx, cur, g.weight(L.ffn_down_b));
        x = encoder_layer_norm(g, g.add(cur, x, "ffn_res", il), L.layer_out_norm, L.layer_out_norm_b, "l_out", il);
    }
    encoder_output(g, x);
}

}  // namespace hearth::archs
