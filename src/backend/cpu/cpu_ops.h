// Internal to the CPU backend: the per-op compute functions and the context they run in. Every
// thread of the pool calls the op's function with its (ith, nth) and splits rows itself; ops with
// several phases call c.barrier() between them (all threads reach the same barriers).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/thread_pool.h"
#include "core/tensor.h"

namespace hearth::cpu {

// Errors met while computing (bad input such as an out-of-range token id) are recorded here by
// any thread and thrown by CpuBackend::compute after the pool finished.
struct ComputeErrors {
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::string message;
    void record(const std::string& msg);
};

struct RepackedMatrix;  // repack.h

// One cache line holding a work-claiming counter (so counters of different nodes or ranges never
// share a line).
struct alignas(64) UnitSlot {
    std::atomic<int64_t> value{0};
};

struct OpCtx {
    int ith = 0;
    int nth = 1;
    ThreadPool* pool = nullptr;          // nullptr when single-threaded
    unsigned char* shared = nullptr;     // scratch visible to all threads of this op
    unsigned char* per_thread = nullptr;  // this thread's private scratch
    ComputeErrors* errors = nullptr;
    Isa isa = Isa::Scalar;               // kernel level for quantized mul_mat
    // The current node's work-unit counter (zero when the node starts), or nullptr. Ops that cut
    // their work into fixed units take them with first_unit/next_unit: thread ith starts with unit
    // ith (each thread starts at once, without touching the counter), then claims units nth, nth+1, ...
    // dynamically from this counter when set (a thread the OS delays does not hold the others at
    // the next barrier), else statically ith + nth, ith + 2 nth, ... A unit's result never depends
    // on which thread runs it.
    std::atomic<int64_t>* unit_counter = nullptr;
    // The current node's nth range slots for next_contiguous (all zero when the node starts), or
    // nullptr (then each thread runs exactly its own range).
    UnitSlot* unit_ranges = nullptr;
    // mul_mat: the scratch already holds this node's quantized activations (a sibling reading the
    // same input quantized them just before; see CpuBackend::plan_activation_reuse).
    bool act_ready = false;
    // mul_mat: the weights' repacked copy was looked up when the node was planned (repacked_known;
    // repacked may then be nullptr: none), so the op skips the registry lookup.
    bool repacked_known = false;
    const RepackedMatrix* repacked = nullptr;
    void barrier() const {
        if (pool && nth > 1) pool->barrier();
    }
};

// Work-unit iteration: for (int64_t u = first_unit(c); u < n_units; u = next_unit(c, u)).
// The counter only hands out indices; the data it guards is ordered by the barriers around the op.
inline int64_t first_unit(const OpCtx& c) { return c.ith; }
inline int64_t next_unit(const OpCtx& c, int64_t u) {
    return c.unit_counter ? c.nth + c.unit_counter->fetch_add(1, std::memory_order_relaxed) : u + c.nth;
}

// Contiguous work-unit iteration: for (int64_t u = next_contiguous(c, n, -1); u >= 0;
// u = next_contiguous(c, n, u)). The units are cut into nth ranges, range r = [r*n/nth,
// (r+1)*n/nth); thread ith takes its own range front to back, then (with c.unit_ranges) the last
// unclaimed unit of the range with the most left, back to front, so a delayed thread's tail
// still goes to the others. Each thread thus reads one contiguous run of rows: units dealt
// alternately (ith, ith + nth, ...) cost decode mul_mat ~10% of its read bandwidth, the hardware
// prefetchers' run-ahead landing in the other thread's rows at every unit boundary.
int64_t next_contiguous(const OpCtx& c, int64_t n_units, int64_t prev);

// Scratch an op needs: `shared` bytes plus `per_thread` bytes for each of nth threads.
struct WorkSize {
    size_t shared = 0;
    size_t per_thread = 0;
};
WorkSize op_work_size(const Tensor& node, int nth);

// [begin, end) of n items for thread ith of nth (contiguous, balanced).
inline void split_range(int64_t n, int ith, int nth, int64_t& begin, int64_t& end) {
    const int64_t per = (n + nth - 1) / nth;
    begin = std::min<int64_t>(n, per * ith);
    end = std::min<int64_t>(n, begin + per);
}

// Flash attention: query heads per unit when a GQA group of `group` heads (over n_kv_heads KV heads
// and n_qblocks query blocks) is split into sub-groups only as far as needed to give each of nth
// threads a unit (every sub-group reads the KV tiles again). Always a divisor of group.
inline int64_t gqa_subgroup(int64_t group, int64_t n_kv_heads, int64_t n_qblocks, int nth) {
    int64_t gsub = group;
    while (gsub > 1 && n_kv_heads * n_qblocks * (group / gsub) < nth) {
        int64_t d = gsub - 1;
        while (d > 1 && group % d != 0) --d;
        gsub = d;
    }
    return gsub;
}

// F16 -> F32 via a 256 KiB table (built once; thread-safe).
const float* fp16_table();
inline float f16_to_f32_fast(uint16_t h) { return fp16_table()[h]; }

// Dispatch one node (not a View) to its op family.
void compute_node(Tensor& node, const OpCtx& c);

// Op families (cpu_ops_*.cpp).
void op_unary(Tensor& dst, const OpCtx& c);         // Scale Softcap Silu Gelu GeluErf Tanh
void op_binary(Tensor& dst, const OpCtx& c);        // Add Mul Div
void op_gated(Tensor& dst, const OpCtx& c);         // Swiglu Geglu
void op_norm(Tensor& dst, const OpCtx& c);          // RmsNorm LayerNorm
void op_rope(Tensor& dst, const OpCtx& c);
void op_soft_max(Tensor& dst, const OpCtx& c);
void op_flash_attn(Tensor& dst, const OpCtx& c);
void op_mul_mat(Tensor& dst, const OpCtx& c);
void op_get_rows(Tensor& dst, const OpCtx& c);
void op_copy(Tensor& dst, const OpCtx& c);          // Cont Cpy
void op_concat(Tensor& dst, const OpCtx& c);
void op_argmax(Tensor& dst, const OpCtx& c);

WorkSize rope_work_size(const Tensor& node, int nth);
WorkSize flash_attn_work_size(const Tensor& node, int nth);
WorkSize mul_mat_work_size(const Tensor& node, int nth);
// Whether mul_mat b, run right after mul_mat a, finds its quantized activations in the scratch a
// left (both quantize the same input tensor into the same layout, in the same scratch slot).
bool mul_mat_shares_activations(const Tensor& a, const Tensor& b);
// The registered repacked copy of weights w (repack.h) when one exists and level isa runs its
// kernel, else nullptr (OpCtx::repacked caches it per planned node).
const RepackedMatrix* repacked_for(const Tensor& w, Isa isa);

// Scalar math shared by the optimized ops and the reference.
float gelu_tanh(float x);
float gelu_erf(float x);
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace hearth::cpu
