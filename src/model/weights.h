// The weight tensors of a model, bound zero-copy to the bytes of the GGUF file (mmap or in-memory
// copy), with shapes checked against the hyper-parameters at load. Shapes use ggml order:
// ne[0] is the contiguous dimension, so a projection W: x[n_in] -> y[n_out] is stored [n_in, n_out]
// (n_out rows of n_in elements).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/dtype.h"

namespace hearth {

namespace gguf {
class File;
}
struct ArchSpec;
struct HParams;

struct TensorRef {
    const char* name = nullptr;    // points into the gguf::File's tensor info
    const uint8_t* data = nullptr; // nullptr: the (optional) tensor is absent
    DType type = DType::F32;
    int64_t ne[4] = {1, 1, 1, 1};
    size_t row_bytes = 0;          // bytes of one ne[0]-element row

    explicit operator bool() const { return data != nullptr; }
    const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes; }
};

struct LayerWeights {
    TensorRef attn_norm;        // [n_embd] F32
    TensorRef wq, wk, wv;       // [n_embd, n_head*hd_k], [n_embd, n_head_kv*hd_k], [n_embd, n_head_kv*hd_v]
    TensorRef bq, bk, bv;       // optional biases [n_head*hd_k], [n_head_kv*hd_k], [n_head_kv*hd_v]
    TensorRef q_norm, k_norm;   // per-head RMS norm weights [hd_k] (qwen3, gemma3)
    TensorRef wo;               // [n_head*hd_v, n_embd]
    TensorRef attn_post_norm;   // [n_embd] (gemma: post_attention_norm)
    TensorRef ffn_norm;         // [n_embd]
    TensorRef ffn_gate, ffn_up; // [n_embd, n_ff]
    TensorRef ffn_down;         // [n_ff, n_embd]
    TensorRef ffn_post_norm;    // [n_embd] (gemma: post_ffw_norm)
    // bert (post-layer-norm encoder): biases and LayerNorm weight/bias pairs, all F32
    TensorRef bo;                                  // [n_embd] attn_output.bias
    TensorRef attn_out_norm, attn_out_norm_b;      // [n_embd] attn_output_norm
    TensorRef ffn_up_b;                            // [n_ff]
    TensorRef ffn_down_b;                          // [n_embd]
    TensorRef layer_out_norm, layer_out_norm_b;    // [n_embd] layer_output_norm
};

struct ModelWeights {
    TensorRef tok_embd;     // [n_embd, n_vocab]
    TensorRef output_norm;  // [n_embd]
    TensorRef output;       // [n_embd, n_vocab]; the token_embd tensor when tied (no output.weight)
    bool tied_output = false;
    // bert: absolute position embeddings [n_embd, n_ctx_train], token-type embeddings [n_embd, n_types]
    // and the LayerNorm over the summed embeddings [n_embd] (weight, bias)
    TensorRef pos_embd, tok_types, tok_norm, tok_norm_b;
    std::vector<LayerWeights> layers;
};

// Binds and shape-checks every tensor the architecture needs. Sets hp.n_vocab from token_embd when
// the tokenizer did not. Throws Error(InvalidFile) naming the tensor (missing, wrong shape,
// mismatching the vocabulary) or Error(Unsupported) for a tensor type hearth cannot compute with.
ModelWeights load_weights(const gguf::File& file, const ArchSpec& spec, HParams& hp);

}  // namespace hearth
