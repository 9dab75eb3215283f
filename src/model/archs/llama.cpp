// llama (also Mistral and other llama-layout files): pre-norm decoder, rope on adjacent pairs,
// SwiGLU FFN, optional untied output head.
#include "model/graph.h"

namespace hearth::archs {

void build_llama(GraphBuilder& g) {
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.norm(x, L.attn_norm, "attn_norm", il);
        cur = g.attention(cur, il);
        if (il == g.hp.n_layer - 1) {  // only the rows whose logits are wanted go further
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
