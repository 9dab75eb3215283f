// Blocks shared by the encoder architectures (bert, nomic-bert; defined in archs/bert.cpp): strict
// tensor binding, LayerNorm with bias, and the summed token + token-type embeddings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/graph.h"
#include "model/weights.h"

namespace hearth {
namespace gguf {
class File;
}
}  // namespace hearth

namespace hearth::archs {

// Binds `name` with the exact ggml-order shape; vectors (1-D: norms, biases) must be F32. `arch` names
// the architecture in messages. Absent and !required: an empty ref.
TensorRef bind_encoder_tensor(const gguf::File& f, const std::string& name, std::vector<int64_t> shape, const char* arch,
                              bool required = true);

// "<arch>.attention.layer_norm_epsilon" (default 1e-12) into hp.norm_eps; Error(InvalidFile) when out of (0, 1).
void read_encoder_eps(const gguf::File& f, const std::string& arch, float& eps);

// LayerNorm with weight and bias over each row of x [n_embd, T]: (x - mean) / sqrt(var + eps) * w + b.
Tensor* encoder_layer_norm(GraphBuilder& g, Tensor* x, const TensorRef& w, const TensorRef& b, const char* name, int il);

// token_embd rows + token_types rows (per token, from g.inp_types) [+ position rows when
// w.pos_embd is bound], then token_embd_norm -> [n_embd, n_tokens].
Tensor* encoder_embeddings(GraphBuilder& g);

// The encoder's last hidden states [n_embd, T] -> the rows of the output tokens, marked as the
// graph's result (pooling happens on the host).
void encoder_output(GraphBuilder& g, Tensor* x);

}  // namespace hearth::archs
