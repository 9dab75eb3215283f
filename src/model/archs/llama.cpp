// llama (also Mistral and other llama-layout files): pre-norm decoder, rope on adjacent pairs,
// SwiGLU FFN, optional untied output head.
#include "model/graph.h"

namespace hearth::archs {

void build_llama(GraphBuilder& g) {
    // Rope on adjacent pairs, no biases, optional untied head: all plain table flags.
    Tensor* x = g.embed();  // [n_embd, n_tokens]
    for (int il = 0; il < int(g.hp.n_layer); ++il) x = g.prenorm_layer(x, il);
    g.output(x);
}

}  // namespace hearth::archs
