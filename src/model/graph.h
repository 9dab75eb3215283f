// Shared transformer graph blocks (embedding, norms, attention with KV cache, gated FFN, output
// head) on top of the compute core's op builders. An architecture file (archs/<arch>.cpp) wires
// these blocks in order; every intermediate is named "<name>-<il>" through cb() so a graph dump
// (--dump-graph) shows where numbers go. Includes core/context.h: never include runtime/context.h here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/context.h"
#include "core/graph.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "model/arch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth {

class KvCache;

// Where the ubatch's new K/V rows go: tokens [token0, token0+n) of the ubatch land in the
// consecutive cache cells [cell0, cell0+n).
struct KvRun {
    int64_t token0, cell0, n;
};

// Everything one graph build needs. The runtime fills the inputs' data after planning.
struct GraphInputs {
    int64_t n_tokens = 0;   // tokens of this ubatch
    int64_t n_kv = 0;       // cache cells attention scans (all used pages)
    int64_t n_outputs = 0;  // tokens whose logits are wanted
    std::vector<KvRun> kv_runs;
    bool embeddings_only = false;  // output() stops after the output norm (no LM head)
    bool flash_attn = true;        // false: attention as mul_mat + soft_max (V cache must be f32/f16/bf16)
};

class GraphBuilder {
public:
    GraphBuilder(Context& ctx, Graph& graph, const HParams& hp, const ModelWeights& w, const ArchSpec& spec,
                 const KvCache& kv, const GraphInputs& in);

    // ---- inputs (leaves flagged kFlagInput; their data is written by the runtime) ----
    Tensor* inp_tokens;    // I32 [n_tokens]
    Tensor* inp_pos;       // I32 [n_tokens]
    Tensor* inp_mask;      // F32 [n_kv, n_tokens]: 0 visible, -inf hidden (causal, per sequence)
    Tensor* inp_mask_swa;  // F32 [n_kv, n_tokens]: the same limited to the sliding window (nullptr if no SWA)
    Tensor* inp_out_ids;   // I32 [n_outputs]: ubatch rows whose logits are wanted
    Tensor* inp_types = nullptr;  // I32 [n_tokens]: token type ids (only when the model has token_types)

    // ---- blocks ----
    // Names t "<name>-<il>" (il < 0: "<name>") and returns it.
    Tensor* cb(Tensor* t, const char* name, int il);
    Tensor* weight(const TensorRef& r);                   // leaf over the mapped bytes
    Tensor* embed();                                      // [n_embd, n_tokens], scaled by hp.embd_scale
    Tensor* norm(Tensor* x, const TensorRef& w, const char* name, int il);  // rms_norm(x) * w
    // Self-attention of layer il on the normed input x [n_embd, n_tokens]: projections (+bias), QK-norm,
    // rope, KV cache write, flash attention over the cache, output projection -> [n_embd, n_tokens].
    Tensor* attention(Tensor* x, int il);
    // Hadamard rotation (core/hadamard.h) of every head of x [hd, n_heads, T] (contiguous):
    // H x, or H^T x when inverse -> [hd, n_heads, T].
    Tensor* rotate_heads(Tensor* x, int64_t hd, uint64_t seed, bool inverse);
    Tensor* ffn(Tensor* x, int il);                       // gated FFN (SwiGLU / GeGLU) -> [n_embd, n_tokens]
    Tensor* add(Tensor* a, Tensor* b, const char* name, int il);
    // The llama-family layer: x + attn(norm(x)), then + ffn(norm(.)); on the last layer only the
    // rows wanted for output go on. [n_embd, n_tokens] -> [n_embd, n_tokens or n_outputs].
    Tensor* prenorm_layer(Tensor* x, int il);
    // Rows wanted for output (last layer) -> [n_embd, n_outputs].
    Tensor* select_outputs(Tensor* x);
    // Output norm, LM head, optional soft-capping: sets result = logits [n_vocab, n_outputs].
    void output(Tensor* x);

    Context& ctx;
    Graph& graph;
    const HParams& hp;
    const ModelWeights& w;
    const ArchSpec& spec;
    const KvCache& kv;
    const GraphInputs& in;
    Tensor* result = nullptr;       // logits [n_vocab, n_outputs]
    Tensor* result_norm = nullptr;  // final hidden state after the output norm [n_embd, n_outputs]

    // ---- running a built graph again for the next ubatch of the same shape (decode steps) ----
    // A graph depends on the cache layout only through the masks ([n_kv, n_tokens]), the K/V
    // windows attention reads ([hd, n_kv, n_head_kv] views of each layer's cache) and the cache
    // rows each run of new tokens is stored to (cell0). rebind() re-reads n_kv and the runs'
    // cells from `in` and re-points exactly those tensors, so the graph, its memory plan and the
    // backend's node plans stay valid. Only when reusable(): the mul_mat attention path sizes
    // arena tensors by n_kv. The caller keeps in.n_tokens, n_outputs and every run's token0 and
    // n as they were at build time (rebind asserts the run count).
    bool reusable() const { return in.flash_attn; }
    void rebind();

private:
    struct KvStore {
        size_t run;                    // index into in.kv_runs
        Tensor* k_dst; Tensor* k_cpy;  // the cache-row view and the cpy node that aliases it
        Tensor* v_dst; Tensor* v_cpy;
    };
    std::vector<Tensor*> kv_windows_;  // K and V views attention reads, ne[1] = n_kv
    std::vector<KvStore> kv_stores_;
};

// Builds the whole forward graph of one ubatch with the architecture's wiring and expands it.
Tensor* build_graph(GraphBuilder& g);

// The rope of layer il: the architecture's variant, the base and scale of the layer's kind (gemma3's
// sliding-window layers have their own base). attention() and the KV-cache shift (runtime/kv_shift.h,
// which re-rotates cached K) both use it, so they always agree.
ops::RopeParams layer_rope_params(const HParams& hp, const ArchSpec& spec, int il);

}  // namespace hearth
