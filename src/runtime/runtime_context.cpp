// The decode loop: validates a Batch, splits it into ubatches, places each ubatch's tokens in the
// paged KV cache, builds the architecture's graph over the cache, computes it on the CPU backend
// and keeps the requested logits. Here "Context" is runtime::Context; the core's tensor pool is
// spelled hearth::Context.
#include "runtime/runtime_context.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/scheduler.h"
#include "core/context.h"
#include "core/error.h"
#include "core/graph.h"
#include "model/arch.h"
#include "model/graph.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/kv_shift.h"

namespace hearth {

const char* flash_attn_name(FlashAttn fa) {
    switch (fa) {
        case FlashAttn::On: return "on";
        case FlashAttn::Off: return "off";
        default: return "auto";
    }
}

std::string describe_kv(const ContextParams& p) {
    std::string s = std::string("K ") + dtype_name(p.kv_type_k) + (p.kv_hadamard_k ? "+had" : "");
    s += std::string(", V ") + dtype_name(p.kv_type_v) + (p.kv_hadamard_v ? "+had" : "");
    return s + ", fa " + flash_attn_name(p.flash_attn);
}

}  // namespace hearth

namespace hearth::runtime {

struct Context::Impl {
    Impl(const Model& m, const ContextParams& p, int64_t n_ctx)
        : model(m), params(p), kv(m.hparams(), n_ctx, p.n_seq_max, p.kv_type_k, p.kv_type_v, p.kv_hadamard_k, p.kv_hadamard_v), backend(p.n_threads),
          sched({&backend}) {
        if (const char* e = std::getenv("HEARTH_NO_GRAPH_REUSE"); e && *e && *e != '0') graph_reuse = false;
    }

    void decode_ubatch(const Batch& b, size_t first, size_t n);

    const Model& model;
    ContextParams params;
    KvCache kv;
    cpu::CpuBackend backend;
    Scheduler sched;
    hearth::Context tensors;  // the compute core's pool of graph tensors
    Graph graph;
    GraphInputs gi;                         // inputs of the graph built last (builder refers to it)
    std::unique_ptr<GraphBuilder> builder;  // the graph built last; null after a failed decode
    bool graph_reuse = true;
    size_t n_reused = 0;

    std::vector<float> logits;      // [n_outputs of the last decode][n_vocab]
    std::vector<float> embd;        // [n_outputs][n_embd] when params.embeddings
    std::vector<int32_t> out_row;   // per batch index: row in logits, -1 when not requested
    // Input buffers of the current ubatch (the graph's input tensors point at them).
    std::vector<int32_t> in_tokens, in_pos, in_out_ids, in_types;
    std::vector<float> in_mask, in_mask_swa;
    std::string dump_path;  // non-empty: write the next graph as DOT
};

Context::Context(const Model& model, const ContextParams& params) {
    ContextParams p = params;
    const int64_t n_ctx = p.n_ctx > 0 ? p.n_ctx : model.n_ctx_train();
    if (p.n_ctx < 0) throw Error(ErrorKind::InvalidArgument, "n_ctx must be >= 0 (0 = trained length), got " + std::to_string(p.n_ctx));
    if (p.n_batch < 1 || p.n_ubatch < 1)
        throw Error(ErrorKind::InvalidArgument, "n_batch and n_ubatch must be >= 1 (got " + std::to_string(p.n_batch) + ", " +
                                                    std::to_string(p.n_ubatch) + ")");
    if (p.n_ubatch > p.n_batch) p.n_ubatch = p.n_batch;
    if (!model.weights().output && !(p.embeddings && p.embeddings_only))
        throw Error(ErrorKind::Unsupported, "model '" + model.architecture() +
                                                "' has no LM head: it computes embeddings only (hearth embed, hearth serve --embedding)");
    p.n_ctx = n_ctx;
    // The CPU flash-attention op handles every KV type, Hadamard rotation, GQA, masks and softcap.
    if (p.flash_attn == FlashAttn::Auto) p.flash_attn = FlashAttn::On;
    const bool v_plain = p.kv_type_v == DType::F32 || p.kv_type_v == DType::F16 || p.kv_type_v == DType::BF16;
    if (p.flash_attn == FlashAttn::Off && !v_plain)
        throw Error(ErrorKind::InvalidArgument, std::string("a quantized V cache (-ctv ") + dtype_name(p.kv_type_v) +
                                                    ") requires flash attention; use -fa on (or auto), or -ctv f16");
    impl_ = std::make_unique<Impl>(model, p, n_ctx);
}

Context::~Context() = default;

void Context::decode(const Batch& b) {
    Impl& I = *impl_;
    const size_t n = b.size();
    if (n == 0) throw Error(ErrorKind::InvalidArgument, "decode: the batch is empty");
    if (b.pos.size() != n || b.seq.size() != n || b.logits.size() != n)
        throw Error(ErrorKind::InvalidArgument, "decode: batch arrays tokens/pos/seq/logits differ in length");
    if (n > size_t(I.params.n_batch))
        throw Error(ErrorKind::InvalidArgument, "decode: batch of " + std::to_string(n) + " tokens exceeds n_batch = " +
                                                    std::to_string(I.params.n_batch));
    if (!I.model.arch().causal && n > size_t(I.params.n_ubatch))
        throw Error(ErrorKind::InvalidArgument, "decode: a non-causal model (" + I.model.architecture() + ") needs the whole input in one ubatch; " +
                                                    std::to_string(n) + " tokens exceed -ub " + std::to_string(I.params.n_ubatch));
    const int64_t n_vocab = I.model.n_vocab();
    if (!b.types.empty()) {  // token types: only models with a token-type table have types other than 0
        if (b.types.size() != n) throw Error(ErrorKind::InvalidArgument, "decode: batch arrays tokens/types differ in length");
        const TensorRef& tt = I.model.weights().tok_types;
        const int64_t n_types = tt ? tt.ne[1] : 1;
        for (size_t i = 0; i < n; ++i)
            if (b.types[i] < 0 || b.types[i] >= n_types)
                throw Error(ErrorKind::InvalidArgument, "decode: token type " + std::to_string(b.types[i]) + " at batch index " +
                                                            std::to_string(i) + " is outside [0, " + std::to_string(n_types) + ")");
    }
    size_t n_out = 0;
    for (size_t i = 0; i < n; ++i) {
        if (b.tokens[i] < 0 || b.tokens[i] >= n_vocab)
            throw Error(ErrorKind::InvalidArgument, "decode: token id " + std::to_string(b.tokens[i]) + " at batch index " +
                                                        std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
        if (b.seq[i] < 0 || b.seq[i] >= I.params.n_seq_max)
            throw Error(ErrorKind::InvalidArgument, "decode: sequence id " + std::to_string(b.seq[i]) + " is outside [0, n_seq_max = " +
                                                        std::to_string(I.params.n_seq_max) + ")");
        if (b.pos[i] < 0) throw Error(ErrorKind::InvalidArgument, "decode: negative position " + std::to_string(b.pos[i]));
        n_out += b.logits[i] ? 1 : 0;
    }
    I.out_row.assign(n, -1);
    for (size_t i = 0, r = 0; i < n; ++i)
        if (b.logits[i]) I.out_row[i] = int32_t(r++);
    I.logits.resize(I.params.embeddings_only ? 0 : n_out * size_t(n_vocab));
    if (I.params.embeddings) I.embd.resize(n_out * size_t(I.model.n_embd()));

    try {
        for (size_t first = 0; first < n; first += size_t(I.params.n_ubatch))
            I.decode_ubatch(b, first, std::min(n - first, size_t(I.params.n_ubatch)));
    } catch (...) {
        I.out_row.assign(n, -1);  // no logits of a failed decode are readable
        throw;
    }
}

namespace {

// Whether a graph built for `built` can run a ubatch with inputs `next` after
// GraphBuilder::rebind(): everything but n_kv and the runs' cache cells must match.
bool same_graph_shape(const GraphInputs& built, const GraphInputs& next) {
    if (built.n_tokens != next.n_tokens || built.n_outputs != next.n_outputs || built.embeddings_only != next.embeddings_only ||
        built.flash_attn != next.flash_attn || built.kv_runs.size() != next.kv_runs.size())
        return false;
    for (size_t i = 0; i < built.kv_runs.size(); ++i)
        if (built.kv_runs[i].token0 != next.kv_runs[i].token0 || built.kv_runs[i].n != next.kv_runs[i].n) return false;
    return true;
}

}  // namespace

void Context::Impl::decode_ubatch(const Batch& b, size_t first, size_t n) {
    const HParams& hp = model.hparams();
    std::vector<int32_t> cells = kv.place(b.pos.data() + first, b.seq.data() + first, n);
    try {
        GraphInputs next;
        next.n_tokens = int64_t(n);
        next.n_kv = kv.n_kv();
        // Runs of consecutive tokens landing in consecutive cells: one cache copy each.
        for (size_t i = 0; i < n; ++i) {
            if (!next.kv_runs.empty() && next.kv_runs.back().cell0 + next.kv_runs.back().n == cells[i])
                next.kv_runs.back().n++;
            else
                next.kv_runs.push_back({int64_t(i), cells[i], 1});
        }
        in_tokens.assign(b.tokens.begin() + long(first), b.tokens.begin() + long(first + n));
        in_pos.assign(b.pos.begin() + long(first), b.pos.begin() + long(first + n));
        if (b.types.empty()) in_types.assign(n, 0);
        else in_types.assign(b.types.begin() + long(first), b.types.begin() + long(first + n));
        in_out_ids.clear();
        for (size_t i = 0; i < n; ++i)
            if (b.logits[first + i]) in_out_ids.push_back(int32_t(i));
        next.n_outputs = int64_t(in_out_ids.size());
        next.embeddings_only = params.embeddings && params.embeddings_only;
        next.flash_attn = params.flash_attn != FlashAttn::Off;
        const bool causal = model.arch().causal;

        // Masks [n_tokens][n_kv]: a cell is visible to token i when it belongs to i's sequence and
        // holds an earlier (or the same) position; the SWA mask also needs pos_i - pos_cell < n_swa.
        const float ninf = -std::numeric_limits<float>::infinity();
        const size_t nkv = size_t(next.n_kv);
        in_mask.assign(n * nkv, ninf);
        if (hp.n_swa > 0) in_mask_swa.assign(n * nkv, ninf);
        for (size_t i = 0; i < n; ++i) {
            const int32_t s = b.seq[first + i], p = b.pos[first + i];
            for (size_t c = 0; c < nkv; ++c) {
                const int32_t cp = kv.cell_pos(int64_t(c));
                if (cp < 0 || (causal && cp > p) || !kv.visible(int64_t(c), s)) continue;
                in_mask[i * nkv + c] = 0.0f;
                if (hp.n_swa > 0 && int64_t(p) - cp < hp.n_swa) in_mask_swa[i * nkv + c] = 0.0f;
            }
        }

        // The graph: the last one re-pointed at this ubatch's cells when the shape allows it,
        // else a new one (gi is what the builder reads, so it is replaced in place).
        const bool reuse = graph_reuse && builder && builder->reusable() && dump_path.empty() && same_graph_shape(gi, next);
        gi = std::move(next);
        if (reuse) {
            builder->rebind();
        } else {
            builder.reset();
            tensors.reset();
            graph.clear();
            builder = std::make_unique<GraphBuilder>(tensors, graph, hp, model.weights(), model.arch(), kv, gi);
            build_graph(*builder);
        }
        GraphBuilder& gb = *builder;
        gb.inp_tokens->data = in_tokens.data();
        gb.inp_pos->data = in_pos.data();
        gb.inp_mask->data = in_mask.data();
        if (gb.inp_mask_swa) gb.inp_mask_swa->data = in_mask_swa.data();
        gb.inp_out_ids->data = in_out_ids.empty() ? nullptr : in_out_ids.data();
        if (gb.inp_types) gb.inp_types->data = in_types.data();
        if (!dump_path.empty()) {
            dump_dot(graph, dump_path);
            dump_path.clear();
        }
        if (reuse) {
            sched.compute_again(graph);
            ++n_reused;
        } else {
            sched.compute(graph);
        }

        if (gi.n_outputs > 0) {
            // Output rows of this ubatch continue after those of earlier ubatches.
            size_t row0 = 0;
            for (size_t i = 0; i < first; ++i) row0 += b.logits[i] ? 1 : 0;
            const Tensor* r = gb.result;
            const size_t nv = size_t(r->ne[0]);
            if (!gi.embeddings_only)
                for (int64_t j = 0; j < gi.n_outputs; ++j)
                    std::memcpy(logits.data() + (row0 + size_t(j)) * nv, r->row_ptr(j), nv * sizeof(float));
            if (params.embeddings) {
                const Tensor* e = gb.result_norm;
                const size_t ne = size_t(e->ne[0]);
                for (int64_t j = 0; j < gi.n_outputs; ++j)
                    std::memcpy(embd.data() + (row0 + size_t(j)) * ne, e->row_ptr(j), ne * sizeof(float));
            }
        }
    } catch (...) {
        kv.unplace(cells);
        builder.reset();  // (a failure may have left the graph half-built or half-rebound)
        throw;
    }
}

const float* Context::logits(size_t i) const {
    if (impl_->params.embeddings && impl_->params.embeddings_only)
        throw Error(ErrorKind::InvalidArgument, "logits: the context computes embeddings only");
    if (i >= impl_->out_row.size() || impl_->out_row[i] < 0)
        throw Error(ErrorKind::InvalidArgument, "logits: batch index " + std::to_string(i) + " did not request logits in the last decode");
    return impl_->logits.data() + size_t(impl_->out_row[i]) * size_t(impl_->model.n_vocab());
}

const float* Context::embeddings(size_t i) const {
    if (!impl_->params.embeddings) throw Error(ErrorKind::InvalidArgument, "embeddings: the context was created without embeddings");
    if (i >= impl_->out_row.size() || impl_->out_row[i] < 0)
        throw Error(ErrorKind::InvalidArgument, "embeddings: batch index " + std::to_string(i) + " did not request output in the last decode");
    return impl_->embd.data() + size_t(impl_->out_row[i]) * size_t(impl_->model.n_embd());
}

void Context::kv_remove(int32_t seq, int32_t p0, int32_t p1) { impl_->kv.remove(seq, p0, p1); }

void Context::kv_copy(int32_t src, int32_t dst) {
    const int n = impl_->params.n_seq_max;
    if (src < 0 || src >= n || dst < 0 || dst >= n)
        throw Error(ErrorKind::InvalidArgument, "kv_copy: sequence ids " + std::to_string(src) + " -> " + std::to_string(dst) +
                                                    " must be in [0, n_seq_max = " + std::to_string(n) + ")");
    impl_->kv.copy(src, dst);
}

void Context::kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    hearth::kv_shift(impl_->kv, impl_->model.hparams(), impl_->model.arch(), seq, p0, p1, delta);
}

void Context::dump_next_graph(const std::string& path) { impl_->dump_path = path; }
void Context::set_graph_reuse(bool on) {
    impl_->graph_reuse = on;
    if (!on) impl_->builder.reset();
}
size_t Context::graphs_reused() const { return impl_->n_reused; }
void Context::kv_clear() { impl_->kv.clear(); }
int32_t Context::kv_pos_max(int32_t seq) const { return impl_->kv.pos_max(seq); }
const ContextParams& Context::params() const { return impl_->params; }
int64_t Context::n_ctx() const { return impl_->params.n_ctx; }
const Model& Context::model() const { return impl_->model; }

MemoryReport Context::memory() const {
    MemoryReport r;
    r.weights = impl_->model.weight_bytes();
    const KvCacheStats s = impl_->kv.stats();
    r.kv_allocated = s.bytes_allocated;
    r.kv_used = s.bytes_used;
    r.kv_capacity = s.bytes_capacity;
    for (size_t b : impl_->sched.stats().arena_capacity) r.compute += b;
    r.compute += impl_->backend.work_buffer_bytes();
    r.compute += (impl_->logits.capacity() + impl_->embd.capacity() + impl_->in_mask.capacity() + impl_->in_mask_swa.capacity()) *
                 sizeof(float);
    return r;
}

}  // namespace hearth::runtime
