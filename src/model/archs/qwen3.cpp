// qwen3: pre-norm decoder with per-head RMS norms on Q and K before rope (QK-norm), NeoX rope,
// SwiGLU FFN, usually tied embeddings.
#include "model/graph.h"

namespace hearth::archs {

void build_qwen3(GraphBuilder& g) {
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.norm(x, L.attn_norm, "attn_norm", il);
        cur = g.attention(cur, il);  // q_norm / k_norm applied per head inside
        if (il == g.hp.n_layer - 1) {
            cur = g.select_outputs(cur);
            x = g.select_outputs(x);
        }
        x = g.add(cur, x, "ffn_inp", il);
        cur = g.norm(x, L.ffn_norm, "ffn_norm", il);
        cur = g.ffn(cur, il);
        x = g.add(cur, x, "l_out", il);
    }
    g.output(x);
}

}  // namespace hearth::archs
