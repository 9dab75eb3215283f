// nomic-bert (nomic-embed-text v1/v1.5): a bert-like encoder with rotary positions (NeoX halves, no
// absolute position table), one fused QKV projection, SwiGLU FFN and post-LayerNorms; no biases on
// the matrices. Embeddings: token + token-type rows -> LayerNorm.
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/archs/encoder.h"
#include "model/graph.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth::archs {

namespace {

// Rows [r0, r0+n) of a matrix as a zero-copy ref (a matrix's rows are contiguous, whatever its type).
TensorRef row_slice(const TensorRef& m, int64_t r0, int64_t n) {
    TensorRef r = m;
    r.data = m.data + size_t(r0) * m.row_bytes;
    r.ne[1] = n;
    return r;
}

}  // namespace

ModelWeights load_nomic_bert(const gguf::File& f, HParams& hp) {
    read_encoder_eps(f, "nomic-bert", hp.norm_eps);
    if (hp.n_head_kv != hp.n_head) throw Error(ErrorKind::InvalidFile, "nomic-bert: head_count_kv must equal head_count");
    const gguf::TensorInfo* te = f.find_tensor("token_embd.weight");
    if (!te) throw Error(ErrorKind::InvalidFile, "tensor 'token_embd.weight' is missing (token embeddings)");
    if (hp.n_vocab == 0) hp.n_vocab = te->ne[1];
    const auto bind = [&](const std::string& name, std::vector<int64_t> shape) {
        return bind_encoder_tensor(f, name, std::move(shape), "nomic-bert");
    };
    ModelWeights w;
    const int64_t E = hp.n_embd, F = hp.n_ff, nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
    w.tok_embd = bind("token_embd.weight", {E, hp.n_vocab});
    const gguf::TensorInfo* tt = f.find_tensor("token_types.weight");
    w.tok_types = bind("token_types.weight", {E, tt ? tt->ne[1] : 2});
    w.tok_norm = bind("token_embd_norm.weight", {E});
    w.tok_norm_b = bind("token_embd_norm.bias", {E});
    w.layers.resize(size_t(hp.n_layer));
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[size_t(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        // attn_qkv [E, nq + nk + nv]: output rows are Q, then K, then V.
        const TensorRef qkv = bind(p + "attn_qkv.weight", {E, nq + nk + nv});
        l.wq = row_slice(qkv, 0, nq);
        l.wk = row_slice(qkv, nq, nk);
        l.wv = row_slice(qkv, nq + nk, nv);
        l.wo = bind(p + "attn_output.weight", {hp.n_head * hp.head_dim_v, E});
        l.attn_out_norm = bind(p + "attn_output_norm.weight", {E});
        l.attn_out_norm_b = bind(p + "attn_output_norm.bias", {E});
        l.ffn_up = bind(p + "ffn_up.weight", {E, F});
        l.ffn_gate = bind(p + "ffn_gate.weight", {E, F});
        l.ffn_down = bind(p + "ffn_down.weight", {F, E});
        l.layer_out_norm = bind(p + "layer_output_norm.weight", {E});
        l.layer_out_norm_b = bind(p + "layer_output_norm.bias", {E});
    }
    return w;
}

void build_nomic_bert(GraphBuilder& g) {
    Tensor* x = encoder_embeddings(g);  // [n_embd, T]
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.attention(x, il);  // Q/K/V slices of attn_qkv, NeoX rope, non-causal mask
        x = encoder_layer_norm(g, g.add(cur, x, "attn_res", il), L.attn_out_norm, L.attn_out_norm_b, "attn_out_norm", il);
        cur = g.ffn(x, il);  // down(silu(gate x) * up x)
        x = encoder_layer_norm(g, g.add(cur, x, "ffn_res", il), L.layer_out_norm, L.layer_out_norm_b, "l_out", il);
    }
    encoder_output(g, x);
}

}  // namespace hearth::archs
