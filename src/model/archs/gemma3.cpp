// gemma3: embeddings scaled by sqrt(n_embd); per layer attention norm -> attention (QK-norm,
// sliding window on 5 of every 6 layers with rope base 10000, global layers with the file's base)
// -> post-attention norm -> residual -> FFN norm -> GeGLU -> post-FFN norm -> residual.
// The GGUF norm weights already include Gemma's "+1".
#include "model/graph.h"

namespace hearth::archs {

void build_gemma3(GraphBuilder& g) {
    Tensor* x = g.embed();  // [n_embd, n_tokens] * sqrt(n_embd)
    for (int il = 0; il < int(g.hp.n_layer); ++il) {
        const LayerWeights& L = g.w.layers[size_t(il)];
        Tensor* cur = g.norm(x, L.attn_norm, "attn_norm", il);
        cur = g.attention(cur, il);  // swa mask + rope base chosen per layer from hparams
        cur = g.norm(cur, L.attn_post_norm, "attn_post_norm", il);
        if (il == g.hp.n_layer - 1) {
            cur = g.select_outputs(cur);
            x = g.select_outputs(x);
        }
        x = g.add(cur, x, "ffn_inp", il);
        cur = g.norm(x, L.ffn_norm, "ffn_norm", il);
        cur = g.ffn(cur, il);  // GeGLU (gelu tanh)
        cur = g.norm(cur, L.ffn_post_norm, "ffn_post_norm", il);
        x = g.add(cur, x, "l_out", il);
    }
    g.output(x);  // final norm, tied LM head, optional final soft-capping
}

}  // namespace hearth::archs
