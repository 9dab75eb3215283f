// The architecture table: what distinguishes llama, qwen2, qwen3, gemma3, ... as data (flags read
// by the loader and the shared graph blocks) plus one graph-building function per architecture
// (src/model/archs/<arch>.cpp). Adding an architecture = one file in archs/ + one row in arch.cpp.
#pragma once

#include <string_view>
#include <vector>

namespace hearth {

class GraphBuilder;  // src/model/graph.h
struct HParams;
struct ModelWeights;
namespace gguf {
class File;
}

enum class RopeKind { Normal, NeoX, None };  // Normal: rotate adjacent pairs (x0,x1); NeoX: (x_i, x_{i+d/2});
                                            // None: absolute position embeddings instead (bert)
enum class FfnKind { SwiGLU, GeGLU };    // silu(gate)*up or gelu_tanh(gate)*up

struct ArchSpec {
    const char* name;          // general.architecture value
    RopeKind rope;
    FfnKind ffn;
    bool qkv_bias;             // attn_q/k/v.bias tensors may be present (bound when present)
    bool qk_norm;              // attn_q_norm / attn_k_norm per-head RMS norms are required
    bool post_norms;           // post_attention_norm and post_ffw_norm are required (gemma 2/3)
    bool embd_scale_sqrt;      // token embeddings multiplied by sqrt(n_embd)
    int swa_period;            // >0: every swa_period-th layer is global, the others sliding-window
    float rope_base_swa;       // rope base of sliding-window layers (when swa_period > 0)
    void (*build)(GraphBuilder& g);  // builds the forward graph for one ubatch
    bool causal = true;        // false: a token attends to every token of its sequence (bert); the
                               // whole sequence must then be in one ubatch
    // Non-null: binds this architecture's tensors instead of the llama-family layout (bert).
    ModelWeights (*load_weights)(const gguf::File& file, HParams& hp) = nullptr;
};

// Every architecture hearth runs (one table, defined in arch.cpp).
const std::vector<ArchSpec>& arch_table();
// Entry for `name`; throws Error(Unsupported) listing the supported names when it is unknown.
const ArchSpec& find_arch(std::string_view name);

}  // namespace hearth
