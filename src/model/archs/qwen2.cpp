// qwen2: the llama layout with biases on the Q/K/V projections (bound by the loader because the
// table row sets qkv_bias; attention() adds them) and NeoX rope.
#include "model/graph.h"

namespace hearth::archs {

void build_qwen2(GraphBuilder& g) {
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.norm(x, L.attn_norm, "attn_norm", il);
        cur = g.attention(cur, il);  // q/k/v + bias
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
