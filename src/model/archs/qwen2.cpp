// qwen2: the llama layout with biases on the Q/K/V projections (bound by the loader because the
// table row sets qkv_bias; attention() adds them) and NeoX rope.
#include "model/graph.h"

namespace hearth::archs {

void build_qwen2(GraphBuilder& g) {
    // Q/K/V biases (table row qkv_bias) are added inside attention().
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) x = g.prenorm_layer(x, il);
    g.output(x);
}

}  // namespace hearth::archs
