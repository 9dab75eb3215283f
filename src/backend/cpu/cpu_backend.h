// The CPU backend: host memory buffers and a thread pool; computes every op of core/ops.h with
// rows split across threads, all threads walking the node list together. A barrier separates two
// nodes only when they could race (row-aligned element-wise chains and independent nodes run back
// to back). Quantized mul_mat goes through the kernel interface (backend/cpu/matmul.h); float
// paths use cpu_simd.h (AVX2 when the ISA level allows, scalar otherwise).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/cpu_fusion.h"
#include "backend/cpu/thread_pool.h"

namespace hearth::cpu {

struct RepackedMatrix;  // repack.h
struct UnitSlot;        // cpu_ops.h

class CpuBackend final : public Backend {
public:
    // n_threads <= 0: hardware concurrency. isa: kernel level for quantized mul_mat (default
    // active_isa(); a level above best_isa() throws Error(Unsupported)). Tests pass each level.
    explicit CpuBackend(int n_threads = 0, const char* name = "CPU", std::optional<Isa> isa = std::nullopt);
    ~CpuBackend() override;

    const char* name() const override { return name_; }
    bool is_host() const override { return true; }
    std::unique_ptr<BackendBuffer> alloc_buffer(size_t bytes) override;
    bool supports_op(const Tensor& node) const override;
    void compute(std::span<Tensor* const> nodes) override;
    // The same node list as the last compute(): skips fusion, barrier and activation planning
    // (checked: the list must match what was planned, else it plans again). Only the scratch of
    // nodes reading views of caller-owned leaves (attention over the KV cache) is re-sized.
    void compute_again(std::span<Tensor* const> nodes) override;
    void set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) override;
    void get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) override;

    int n_threads() const { return pool_.n_threads(); }
    Isa isa() const { return isa_; }
    // Bytes of per-compute scratch currently held (quantized activations, attention tiles).
    size_t work_buffer_bytes() const { return work_.size(); }

    // Per-op wall time (thread 0, including the barrier before each node) and each thread's time
    // waiting in barriers, accumulated while profiling is on. Enabled by set_profiling(true) or env HEARTH_PROFILE_OPS=1 (then printed to
    // stderr when the backend is destroyed).
    void set_profiling(bool on) {
        profiling_ = on;
        pool_.set_timing(on);
    }
    std::string profile_report() const;

    // Barriers the last compute() needed / elided (row-aligned element-wise chains skip them).
    size_t barriers_planned() const;
    // Small row-local nodes run replicated on every thread (see replicable()); on by default,
    // switchable so tests can compare both plans.
    void set_replicate_small_ops(bool on) {
        replicate_small_ops_ = on;
        planned_.clear();
    }
    // Sibling mul_mats reuse the quantized activations of the one before (plan_activation_reuse);
    // on by default, switchable for tests.
    void set_reuse_activations(bool on) {
        reuse_activations_ = on;
        planned_.clear();
    }
    // Adjacent node pairs one pass can compute are fused (cpu_fusion.h); on by default (env
    // HEARTH_NO_FUSE=1 turns it off), switchable so tests can compare both plans.
    void set_fuse_ops(bool on) {
        fuse_ops_ = on;
        planned_.clear();
    }
    // Pairs fused in the last compute().
    size_t fused_pairs() const { return fuse_ops_ ? fusion_.n_fused : 0; }

    // Tests: compute_again() also plans from scratch and asserts the reused plan is identical.
    void set_verify_reuse(bool on) { verify_reuse_ = on; }

private:
    // What compute() decides before running: the node list to run (graph nodes, fused pairs
    // merged), per-node barriers / replication / activation reuse, and the scratch layout.
    struct NodePlan {
        std::vector<Tensor*> planned;   // the graph node list this plan is for (compute_again checks it)
        std::span<Tensor* const> run;   // the list to run: graph_nodes, or fusion_'s merged list
        std::vector<size_t> resizable;  // indices into run whose scratch may follow leaf views
        size_t max_shared = 0, max_private = 0;
        // The computing nodes of run (views and fused-away nodes left out), each with what its
        // run needs, so the threads' loop touches no other node.
        struct Step {
            Tensor* node;
            const RepackedMatrix* repacked;  // mul_mat: its weights' repacked copy (or nullptr)
            uint32_t index;                  // position in run (its unit counter)
            bool sync, replicate, act_ready, claims_units, is_mul_mat;
        };
        std::vector<Step> steps;
        void clear() {
            planned.clear();
            run = {};
            steps.clear();
        }
    };
    void plan_nodes(std::span<Tensor* const> graph_nodes);
    void run_planned();
    void plan_barriers(std::span<Tensor* const> nodes, int nth);
    bool replicable(const Tensor& t, int nth) const;
    void plan_activation_reuse(std::span<Tensor* const> nodes);
    // Row-local nodes up to this many elements run replicated (every thread computes all rows).
    static constexpr int64_t kReplicateMaxElems = 8192;

    const char* name_;
    Isa isa_;
    ThreadPool pool_;
    std::vector<unsigned char> work_;  // scratch shared by all threads of one compute()
    std::vector<uint8_t> sync_before_;  // per node of the current compute: barrier before it
    std::vector<uint8_t> replicate_;    // per node: every thread computes all of it
    std::vector<uint8_t> act_ready_;    // per node: mul_mat whose quantized activations are in scratch
    std::vector<std::pair<const Tensor*, bool>> plan_written_;         // plan_barriers' working sets,
    std::vector<std::pair<const char*, const char*>> plan_touched_;  // kept to avoid reallocation
    // Per node of the current compute, n_threads slots: its work-unit counter (OpCtx::unit_counter
    // is slot 0) or range slots (OpCtx::unit_ranges), one cache line each so nodes running back to
    // back do not contend; zeroed before each run.
    std::unique_ptr<UnitSlot[]> unit_counters_;
    size_t unit_counters_size_ = 0;
    bool replicate_small_ops_ = true;
    bool reuse_activations_ = true;
    bool fuse_ops_ = true;
    FusionPlan fusion_;
    NodePlan planned_;
    bool verify_reuse_ = false;
    bool profiling_ = false;
    bool print_profile_ = false;
    double op_seconds_[static_cast<int>(OpKind::Count)] = {};
    uint64_t op_calls_[static_cast<int>(OpKind::Count)] = {};
    // mul_mat split by weight type (indexed by the DType id, < kMaxTypeId): seconds, calls and
    // weight bytes, so the profile can print each type's effective weight-read bandwidth.
    static constexpr int kMaxTypeId = 64;
    double mm_seconds_[kMaxTypeId] = {};
    uint64_t mm_calls_[kMaxTypeId] = {};
    double mm_bytes_[kMaxTypeId] = {};
    uint64_t prof_computes_ = 0, prof_nodes_ = 0, prof_barriers_ = 0;
};

// Single-threaded scalar reference of one node (double accumulation where it matters): the truth
// the op tests compare every backend against. node's data and its sources' data must be set.
void compute_reference(Tensor& node);

}  // namespace hearth::cpu
