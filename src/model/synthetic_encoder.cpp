// Synthetic encoders: the bert / nomic-bert tensor layout (post-LayerNorm blocks, token-type table,
// absolute positions for bert, fused QKV + SwiGLU for nomic-bert) with random weights, and optionally
// a cross-encoder rank head, so rerankers and nomic-bert run in CI without downloads.
#include <string>

#include "core/error.h"
#include "model/synthetic_tensors.h"

namespace hearth {

void add_synthetic_encoder(gguf::Writer& w, const SyntheticSpec& s, int64_t n_vocab) {
    const bool nomic = s.arch == "nomic-bert";
    if (!nomic && s.arch != "bert") throw Error(ErrorKind::Unsupported, "no synthetic encoder layout for '" + s.arch + "'");
    if (s.n_head_kv != s.n_head)
        throw Error(ErrorKind::InvalidArgument, s.arch + ": n_head_kv must equal n_head (got " + std::to_string(s.n_head_kv) + " and " +
                                                    std::to_string(s.n_head) + ")");
    if (s.n_types < 1 || s.n_types > 1024) throw Error(ErrorKind::InvalidArgument, "n_types must be in [1, 1024]");
    const std::string a = s.arch + ".";
    w.set(a + "attention.layer_norm_epsilon", gguf::Value::f32(1e-12f));
    w.set(a + "attention.causal", gguf::Value::boolean(false));
    w.set(a + "pooling_type", gguf::Value::u32(s.rank_head ? 4 : 1));  // rank, else mean
    w.set("tokenizer.ggml.token_type_count", gguf::Value::u32(uint32_t(s.n_types)));

    const int64_t E = s.n_embd, F = s.n_ff, nq = s.n_head * s.head_dim;
    add_synthetic_matrix(w, s, "token_embd.weight", E, n_vocab);
    // Small embedding tables and every vector stay F32, as converters write them.
    if (!nomic) add_synthetic_vector(w, s, "position_embd.weight", {E, s.n_ctx_train}, 0.0f, 0.5f);
    add_synthetic_vector(w, s, "token_types.weight", {E, s.n_types}, 0.0f, 0.5f);
    add_synthetic_vector(w, s, "token_embd_norm.weight", {E}, 1.0f, 0.1f);
    add_synthetic_vector(w, s, "token_embd_norm.bias", {E}, 0.0f, 0.1f);
    for (int64_t il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        if (nomic) {
            add_synthetic_matrix(w, s, p + "attn_qkv.weight", E, 3 * nq);  // rows: Q, K, V
        } else {
            for (const char* m : {"attn_q", "attn_k", "attn_v"}) {
                add_synthetic_matrix(w, s, p + m + ".weight", E, nq);
                add_synthetic_vector(w, s, p + m + ".bias", {nq}, 0.0f, 0.1f);
            }
        }
        add_synthetic_matrix(w, s, p + "attn_output.weight", nq, E);
        if (!nomic) add_synthetic_vector(w, s, p + "attn_output.bias", {E}, 0.0f, 0.1f);
        add_synthetic_vector(w, s, p + "attn_output_norm.weight", {E}, 1.0f, 0.1f);
        add_synthetic_vector(w, s, p + "attn_output_norm.bias", {E}, 0.0f, 0.1f);
        add_synthetic_matrix(w, s, p + "ffn_up.weight", E, F);
        if (nomic) add_synthetic_matrix(w, s, p + "ffn_gate.weight", E, F);
        else add_synthetic_vector(w, s, p + "ffn_up.bias", {F}, 0.0f, 0.1f);
        add_synthetic_matrix(w, s, p + "ffn_down.weight", F, E);
        if (!nomic) add_synthetic_vector(w, s, p + "ffn_down.bias", {E}, 0.0f, 0.1f);
        add_synthetic_vector(w, s, p + "layer_output_norm.weight", {E}, 1.0f, 0.1f);
        add_synthetic_vector(w, s, p + "layer_output_norm.bias", {E}, 0.0f, 0.1f);
    }
    if (s.rank_head) {  // BertForSequenceClassification: pooler dense [E, E] + tanh, classifier [E, 1]
        add_synthetic_matrix(w, s, "cls.weight", E, E);
        add_synthetic_vector(w, s, "cls.bias", {E}, 0.0f, 0.1f);
        add_synthetic_matrix(w, s, "cls.output.weight", E, 1);
        add_synthetic_vector(w, s, "cls.output.bias", {1}, 0.0f, 0.1f);
    }
}

}  // namespace hearth
