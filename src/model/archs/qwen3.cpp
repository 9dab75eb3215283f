// qwen3: pre-norm decoder with per-head RMS norms on Q and K before rope (QK-norm), NeoX rope,
// SwiGLU FFN, usually tied embeddings.
#include "model/graph.h"

namespace hearth::archs {

void build_qwen3(GraphBuilder& g) {
    // Per-head Q/K RMS norms (table row qk_norm) are applied inside attention() before rope.
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) x = g.prenorm_layer(x, il);
    g.output(x);
}

}  // namespace hearth::archs
