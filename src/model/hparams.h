// Hyper-parameters of a decoder-only transformer as read from GGUF metadata ("<arch>.*" keys),
// plus the per-layer facts derived from them (sliding-window layers and their rope bases).
// read_hparams() checks presence and ranges; load_weights() then checks them against tensor shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth {

namespace gguf {
class File;
}
struct ArchSpec;

struct HParams {
    std::string arch;         // general.architecture
    int64_t n_vocab = 0;      // rows of token_embd (== tokenizer.ggml.tokens length)
    int64_t n_ctx_train = 0;  // <arch>.context_length
    int64_t n_embd = 0;       // <arch>.embedding_length
    int64_t n_layer = 0;      // <arch>.block_count
    int64_t n_head = 0;       // <arch>.attention.head_count
    int64_t n_head_kv = 0;    // <arch>.attention.head_count_kv (default n_head)
    int64_t head_dim_k = 0;   // <arch>.attention.key_length (default n_embd / n_head)
    int64_t head_dim_v = 0;   // <arch>.attention.value_length (default head_dim_k)
    int64_t n_ff = 0;         // <arch>.feed_forward_length
    int64_t n_rot = 0;        // <arch>.rope.dimension_count (default head_dim_k)
    float norm_eps = 1e-5f;   // <arch>.attention.layer_norm_rms_epsilon
    float rope_base = 10000.0f;     // <arch>.rope.freq_base (global layers)
    float rope_scale = 1.0f;        // 1 / <arch>.rope.scaling.factor for linear scaling (global layers)
    float rope_base_swa = 10000.0f; // rope base of sliding-window layers (arch default)
    int64_t n_swa = 0;              // <arch>.attention.sliding_window (0: none)
    float attn_softcap = 0.0f;      // <arch>.attn_logit_softcapping (0: off)
    float final_softcap = 0.0f;     // <arch>.final_logit_softcapping (0: off)
    float query_scale = 0.0f;       // multiplier of q·k; 1/sqrt(head_dim_k) unless the arch says
    float embd_scale = 1.0f;        // multiplier of the token embeddings (gemma: sqrt(n_embd))
    std::vector<uint8_t> swa_layer; // [n_layer] 1: layer il uses the sliding window

    int64_t n_embd_q() const { return n_head * head_dim_k; }
    int64_t n_embd_k_gqa() const { return n_head_kv * head_dim_k; }
    int64_t n_embd_v_gqa() const { return n_head_kv * head_dim_v; }
    bool is_swa(int64_t il) const { return n_swa > 0 && swa_layer[size_t(il)] != 0; }
    float layer_rope_base(int64_t il) const { return is_swa(il) ? rope_base_swa : rope_base; }
    float layer_rope_scale(int64_t il) const { return is_swa(il) ? 1.0f : rope_scale; }
};

// Reads and range-checks every hyper-parameter for the architecture `spec`. n_vocab is taken from the
// tokenizer token list when present (load_weights checks it against token_embd). Throws
// Error(InvalidFile) naming the key for a missing, mistyped or out-of-range value.
HParams read_hparams(const gguf::File& file, const ArchSpec& spec);

}  // namespace hearth
