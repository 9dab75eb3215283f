// The inference context: a paged KV cache shared by up to n_seq_max sequences, compute buffers
// and the decode loop that runs a model's graph over a Batch and keeps the requested logits.
// Used by `hearth run/perplexity/bench`, the server and the C API alike. Not thread-safe: one
// caller at a time (decode itself uses n_threads worker threads).
// The class is hearth::runtime::Context, exported as hearth::Context by runtime/context.h; code that
// also needs the compute core's tensor pool (core/context.h, also named hearth::Context) includes
// this header instead and says runtime::Context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quant/dtype.h"
#include "runtime/batch.h"

namespace hearth {

class Model;

// Flash attention (-fa): Auto = on whenever the CPU path supports the configuration (it supports
// every KV type, so Auto is on today); Off = scores materialised (mul_mat + soft_max), which needs
// an unquantized V cache (f32/f16/bf16), as in llama.cpp.
enum class FlashAttn { Auto, On, Off };

struct ContextParams {
    int64_t n_ctx = 0;     // KV cells shared by all sequences (page pool); 0 = the model's trained length
    int n_batch = 2048;    // most tokens one decode() call accepts
    int n_ubatch = 512;    // tokens per graph evaluation (decode splits batches into these)
    int n_threads = 0;     // 0 = all cores
    int n_seq_max = 1;     // sequences (server slots) sharing the KV page pool
    DType kv_type_k = DType::F16;
    DType kv_type_v = DType::F16;
    // Hadamard rotation per head (after RoPE) of K (Q gets the same rotation) and of V
    // (the attention output gets the inverse) before they are quantized into the cache. head_dim
    // must be a power of two. Seeds: KvCache::kHadamardSeedK / kHadamardSeedV.
    bool kv_hadamard_k = false;
    bool kv_hadamard_v = false;
    FlashAttn flash_attn = FlashAttn::Auto;
    bool embeddings = false;  // also keep the final hidden state of logits-requesting tokens
    bool embeddings_only = false;  // with embeddings: skip the LM head (logits() is then unavailable)
};

struct MemoryReport {
    uint64_t weights = 0;         // bytes of model weights (mapped or read)
    uint64_t kv_allocated = 0;    // bytes of KV pages allocated so far
    uint64_t kv_used = 0;         // bytes of KV cells holding tokens
    uint64_t kv_capacity = 0;     // bytes the KV cache would take when every sequence is full
    uint64_t compute = 0;         // bytes of compute (activation) buffers
};

// "K q4_0+had, V f16, fa on": the KV configuration as the load log prints it (fa resolved: Auto
// prints as "fa auto").
std::string describe_kv(const ContextParams& p);
const char* flash_attn_name(FlashAttn fa);  // "auto", "on", "off"

namespace runtime {

class Context {
public:
    Context(const Model& model, const ContextParams& params);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Runs the model over the batch (split into ubatches). Throws Error: InvalidArgument for a bad
    // token id / position / sequence id or a batch larger than n_batch, OutOfMemory when the KV
    // cache is full (the message names n_ctx). On error the cache holds no partial ubatch.
    void decode(const Batch& batch);
    // n_vocab logits of token `batch_index` of the last decode(); it must have requested logits.
    const float* logits(size_t batch_index) const;
    // n_embd final hidden state (after the output norm), when params.embeddings is set.
    const float* embeddings(size_t batch_index) const;

    void kv_remove(int32_t seq, int32_t p0, int32_t p1 = -1);  // drop [p0,p1) of seq (-1: to the end)
    void kv_copy(int32_t src_seq, int32_t dst_seq);            // dst becomes a copy of src
    void kv_clear();                                           // every sequence empty
    int32_t kv_pos_max(int32_t seq) const;                     // -1 when empty
    // Adds delta to the positions of seq's cached tokens in [p0,p1) (p1 < 0: to the end) and
    // re-rotates their cached K (context shift; see runtime/kv_shift.h for the rules and errors).
    void kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta);

    // Writes the graph of the next ubatch decode() builds as Graphviz DOT to path (--dump-graph).
    void dump_next_graph(const std::string& path);

    // Decode steps with the shape of the step before (same token count, outputs and runs of
    // cache cells; flash attention) run the graph built then again, re-pointed at the new cache
    // cells, instead of building and planning a new one. On by default; env
    // HEARTH_NO_GRAPH_REUSE=1 turns it off. Tests switch it to compare both paths.
    void set_graph_reuse(bool on);
    size_t graphs_reused() const;  // decode ubatches that ran a reused graph

    const ContextParams& params() const;
    int64_t n_ctx() const;
    const Model& model() const;
    MemoryReport memory() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace runtime
}  // namespace hearth
