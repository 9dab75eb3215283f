// CPU backend: host buffers, the compute loop (all pool threads walk the node list together with a
// barrier after each node) and the op dispatch switch.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/cpu/cpu_ops.h"
#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu {
namespace {

class HostBuffer final : public BackendBuffer {
public:
    HostBuffer(Backend& owner, size_t bytes) : owner_(owner), size_(bytes) {
        data_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
        if (!data_) throw Error(ErrorKind::OutOfMemory, "cannot allocate a CPU buffer of " + std::to_string(bytes) + " bytes");
    }
    ~HostBuffer() override { std::free(data_); }
    void* base() override { return data_; }
    size_t size() const override { return size_; }
    Backend& backend() override { return owner_; }

private:
    Backend& owner_;
    void* data_;
    size_t size_;
};

constexpr size_t kAlign = 64;

// Ops whose work units threads claim dynamically (OpCtx::unit_counter): mul_mat, and flash
// attention (its AVX-512 path takes the counter; the others deal units statically).
bool claims_units(const Tensor& t) { return t.op == OpKind::MulMat || t.op == OpKind::FlashAttn; }
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

int64_t next_contiguous(const OpCtx& c, int64_t n_units, int64_t prev) {
    auto range = [&](int r, int64_t& b, int64_t& e) {
        b = n_units * r / c.nth;
        e = n_units * (r + 1) / c.nth;
    };
    int64_t b, e;
    if (!c.unit_ranges || c.nth == 1) {  // static: exactly the own range
        range(c.ith, b, e);
        const int64_t u = prev < 0 ? b : prev + 1;
        return u < e ? u : -1;
    }
    // Slot r packs the units taken from range r's front (low 32 bits) and back (high 32 bits).
    constexpr int64_t kBack = int64_t(1) << 32;
    auto left = [](int64_t v, int64_t b, int64_t e) { return e - b - (v & (kBack - 1)) - (v >> 32); };
    std::atomic<int64_t>& own = c.unit_ranges[c.ith].value;
    range(c.ith, b, e);
    for (int64_t v = own.load(std::memory_order_relaxed); left(v, b, e) > 0;)
        if (own.compare_exchange_weak(v, v + 1, std::memory_order_relaxed)) return b + (v & (kBack - 1));
    for (;;) {  // own range done: steal from the back of the fullest other range
        int victim = -1;
        int64_t most = 0;
        for (int r = 0; r < c.nth; ++r) {
            if (r == c.ith) continue;
            int64_t rb, re;
            range(r, rb, re);
            const int64_t l = left(c.unit_ranges[r].value.load(std::memory_order_relaxed), rb, re);
            if (l > most) {
                most = l;
                victim = r;
            }
        }
        if (victim < 0) return -1;
        range(victim, b, e);
        std::atomic<int64_t>& slot = c.unit_ranges[victim].value;
        for (int64_t v = slot.load(std::memory_order_relaxed); left(v, b, e) > 0;)
            if (slot.compare_exchange_weak(v, v + kBack, std::memory_order_relaxed)) return e - 1 - (v >> 32);
    }
}

void ComputeErrors::record(const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failed.load()) message = msg;
    failed.store(true);
}

const float* fp16_table() {
    static const float* table = [] {
        static float t[65536];
        for (uint32_t i = 0; i < 65536; ++i) t[i] = fp16_to_fp32(static_cast<uint16_t>(i));
        return t;
    }();
    return table;
}

float gelu_tanh(float x) {
    // 0.5 x (1 + tanh(y)) == x * sigmoid(2y): one exp instead of a (slower) tanh.
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    const float y = kSqrt2OverPi * x * (1.0f + 0.044715f * x * x);
    return x / (1.0f + std::exp(-2.0f * y));
}

float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752440f)); }

WorkSize op_work_size(const Tensor& node, int nth) {
    switch (node.op) {
        case OpKind::MulMat: return mul_mat_work_size(node, nth);
        case OpKind::Rope: return rope_work_size(node, nth);
        case OpKind::FlashAttn: return flash_attn_work_size(node, nth);
        default: return {};
    }
}

void compute_node(Tensor& node, const OpCtx& c) {
    switch (node.op) {
        case OpKind::None:
        case OpKind::View: return;
        case OpKind::Scale:
        case OpKind::Softcap:
        case OpKind::Silu:
        case OpKind::Gelu:
        case OpKind::GeluErf:
        case OpKind::Tanh: op_unary(node, c); return;
        case OpKind::Add:
        case OpKind::Mul:
        case OpKind::Div: op_binary(node, c); return;
        case OpKind::Swiglu:
        case OpKind::Geglu: op_gated(node, c); return;
        case OpKind::RmsNorm:
        case OpKind::LayerNorm: op_norm(node, c); return;
        case OpKind::Rope: op_rope(node, c); return;
        case OpKind::SoftMax: op_soft_max(node, c); return;
        case OpKind::FlashAttn: op_flash_attn(node, c); return;
        case OpKind::MulMat: op_mul_mat(node, c); return;
        case OpKind::GetRows: op_get_rows(node, c); return;
        case OpKind::Cont:
        case OpKind::Cpy: op_copy(node, c); return;
        case OpKind::Concat: op_concat(node, c); return;
        case OpKind::Argmax: op_argmax(node, c); return;
        case OpKind::Count: break;
    }
    HEARTH_ASSERT_MSG(false, "unknown op kind");
}

CpuBackend::CpuBackend(int n_threads, const char* name, std::optional<Isa> isa)
    : name_(name), isa_(isa ? *isa : active_isa()), pool_(n_threads) {
    if (const char* e = std::getenv("HEARTH_NO_FUSE"); e && *e && *e != '0') fuse_ops_ = false;
    // (tests of graph reuse: every compute_again() also plans from scratch and compares)
    if (const char* e = std::getenv("HEARTH_VERIFY_PLAN_REUSE"); e && *e && *e != '0') verify_reuse_ = true;
    if (const char* e = std::getenv("HEARTH_PROFILE_OPS"); e && *e && *e != '0') {
        profiling_ = print_profile_ = true;
        pool_.set_timing(true);
    }
    if (static_cast<int>(isa_) > static_cast<int>(best_isa()))
        throw Error(ErrorKind::Unsupported, std::string("CPU backend: ISA ") + isa_name(isa_) + " is not supported by this CPU");
}
CpuBackend::~CpuBackend() {
    if (print_profile_) std::fprintf(stderr, "%s", profile_report().c_str());
}

std::string CpuBackend::profile_report() const {
    double total = 0;
    for (double t : op_seconds_) total += t;
    std::string out = std::string("hearth: ") + name_ + " op profile (" + std::to_string(pool_.n_threads()) +
                      " threads; per compute: " + std::to_string(prof_computes_ ? prof_nodes_ / prof_computes_ : 0) +
                      " nodes, " + std::to_string(prof_computes_ ? prof_barriers_ / prof_computes_ : 0) +
                      " barriers between nodes)\n";
    if (pool_.n_threads() > 1 && prof_computes_) {
        out += "  barrier wait per compute (ms):";
        for (int i = 0; i < pool_.n_threads(); ++i) {
            char w[32];
            std::snprintf(w, sizeof w, " %.3f", 1e-6 * double(pool_.barrier_wait_ns(i)) / double(prof_computes_));
            out += w;
        }
        out += " (thread 0..n-1; " + std::to_string(pool_.barriers_passed() / prof_computes_) + " barriers incl. in-op)\n";
    }
    for (int i = 0; i < static_cast<int>(OpKind::Count); ++i) {
        if (!op_calls_[i]) continue;
        char line[160];
        std::snprintf(line, sizeof line, "  %-12s %8llu calls %10.3f ms %5.1f%%\n", op_name(static_cast<OpKind>(i)),
                      static_cast<unsigned long long>(op_calls_[i]), op_seconds_[i] * 1e3,
                      total > 0 ? 100.0 * op_seconds_[i] / total : 0.0);
        out += line;
        if (static_cast<OpKind>(i) != OpKind::MulMat) continue;
        for (int id = 0; id < kMaxTypeId; ++id) {
            if (!mm_calls_[id]) continue;
            std::snprintf(line, sizeof line, "    %-10s %8llu calls %10.3f ms %5.1f%%  %6.1f GB/s of weights\n",
                          dtype_name(static_cast<DType>(id)), static_cast<unsigned long long>(mm_calls_[id]),
                          mm_seconds_[id] * 1e3, total > 0 ? 100.0 * mm_seconds_[id] / total : 0.0,
                          mm_seconds_[id] > 0 ? 1e-9 * mm_bytes_[id] / mm_seconds_[id] : 0.0);
            out += line;
        }
    }
    return out;
}

std::unique_ptr<BackendBuffer> CpuBackend::alloc_buffer(size_t bytes) { return std::make_unique<HostBuffer>(*this, bytes); }

bool CpuBackend::supports_op(const Tensor& node) const {
    // The builders in core/ops.h already restrict types to what this backend computes.
    return node.op != OpKind::Count;
}

void CpuBackend::compute(std::span<Tensor* const> graph_nodes) {
    plan_nodes(graph_nodes);
    run_planned();
}

void CpuBackend::compute_again(std::span<Tensor* const> graph_nodes) {
    NodePlan& p = planned_;
    if (p.planned.size() != graph_nodes.size() || !std::equal(graph_nodes.begin(), graph_nodes.end(), p.planned.begin()))
        return compute(graph_nodes);
    if (!fuse_ops_) p.run = graph_nodes;  // (unfused, the plan ran the caller's list itself)
    const int nth = pool_.n_threads();
    for (size_t i : p.resizable) {  // (sizes only grow: the scratch layout stays a valid bound)
        const WorkSize w = op_work_size(*p.run[i], nth);
        p.max_shared = std::max(p.max_shared, align_up(w.shared));
        p.max_private = std::max(p.max_private, align_up(w.per_thread));
    }
    if (verify_reuse_) {  // plan from scratch and compare every decision
        const std::vector<Tensor*> run(p.run.begin(), p.run.end());
        const auto sync = sync_before_, rep = replicate_, act = act_ready_;
        const size_t shared = p.max_shared, priv = p.max_private;
        plan_nodes(graph_nodes);
        HEARTH_ASSERT_MSG(std::equal(run.begin(), run.end(), p.run.begin(), p.run.end()) && sync == sync_before_ &&
                              rep == replicate_ && act == act_ready_ && p.max_shared <= shared && p.max_private <= priv,
                          "compute_again: the reused node plan differs from a fresh one");
        p.max_shared = shared;
        p.max_private = priv;
    }
    run_planned();
}

void CpuBackend::plan_nodes(std::span<Tensor* const> graph_nodes) {
    NodePlan& p = planned_;
    p.clear();
    const int nth = pool_.n_threads();
    // The list to run: the graph's nodes with fusable pairs merged (same length, same positions).
    p.run = fuse_ops_ ? plan_fusions(graph_nodes, fusion_) : graph_nodes;
    // One scratch area for the whole run, sized for the hungriest node.
    // Scratch layout, fixed for the whole run: [shared: max over nodes][thread 0]...[thread nth-1],
    // each thread's slot max-per-thread bytes. Fixed slots mean a thread's private scratch never
    // overlaps another thread's, even across nodes that run without a barrier between them.
    p.max_shared = p.max_private = 0;
    p.resizable.clear();
    for (size_t i = 0; i < p.run.size(); ++i) {
        const Tensor* t = p.run[i];
        HEARTH_ASSERT_MSG(t->op == OpKind::View || t->op == OpKind::None || t->data != nullptr,
                          "node has no memory (was the graph planned?)");
        const WorkSize w = op_work_size(*t, nth);
        p.max_shared = std::max(p.max_shared, align_up(w.shared));
        p.max_private = std::max(p.max_private, align_up(w.per_thread));
        // A source viewing a leaf the caller owns (the KV cache) may change extent between runs.
        for (const Tensor* s : t->src)
            if (s && s->view_src && s->view_src->op == OpKind::None && !(s->view_src->flags & kFlagPlanned)) {
                p.resizable.push_back(i);
                break;
            }
    }
    plan_activation_reuse(p.run);
    plan_barriers(p.run, nth);
    for (size_t i = 0; i < p.run.size(); ++i) {
        Tensor* t = p.run[i];
        if (t->op == OpKind::View || t->op == OpKind::None) continue;
        const bool mm = t->op == OpKind::MulMat;
        p.steps.push_back({t, mm ? repacked_for(*t->src[0], isa_) : nullptr, static_cast<uint32_t>(i), sync_before_[i] != 0,
                           replicate_[i] != 0, act_ready_[i] != 0, claims_units(*t), mm});
    }
    p.planned.assign(graph_nodes.begin(), graph_nodes.end());
}

void CpuBackend::run_planned() {
    const std::span<Tensor* const> nodes = planned_.run;  // (steps index into it)
    const size_t max_shared = planned_.max_shared, max_private = planned_.max_private;
    const size_t need = max_shared + static_cast<size_t>(pool_.n_threads()) * max_private;
    if (work_.size() < need) work_.resize(need + kAlign);
    unsigned char* base = work_.data();
    base += (kAlign - reinterpret_cast<uintptr_t>(base) % kAlign) % kAlign;

    const size_t nth = static_cast<size_t>(pool_.n_threads());  // nth slots per node
    if (unit_counters_size_ < nodes.size() * nth) {
        unit_counters_ = std::make_unique<UnitSlot[]>(nodes.size() * nth);
        unit_counters_size_ = nodes.size() * nth;
    }
    for (const NodePlan::Step& s : planned_.steps)  // published to the workers by pool_.run()
        if (s.claims_units)
            for (size_t r = 0; r < nth; ++r) unit_counters_[s.index * nth + r].value.store(0, std::memory_order_relaxed);
    if (profiling_) {
        ++prof_computes_;
        prof_nodes_ += nodes.size();
        prof_barriers_ += barriers_planned();
    }
    ComputeErrors errors;
    auto run = [&](int ith, int n) {
        OpCtx c;
        c.ith = ith;
        c.nth = n;
        c.pool = n > 1 ? &pool_ : nullptr;
        c.errors = &errors;
        c.isa = isa_;
        auto t_prev = std::chrono::steady_clock::now();
        c.shared = base;
        c.per_thread = base + max_shared + static_cast<size_t>(ith) * max_private;
        for (const NodePlan::Step& s : planned_.steps) {
            Tensor* t = s.node;
            if (s.sync) pool_.barrier();
            UnitSlot* slots = n > 1 && s.claims_units ? &unit_counters_[s.index * nth] : nullptr;
            c.unit_counter = slots ? &slots[0].value : nullptr;
            c.unit_ranges = slots;
            c.act_ready = s.act_ready;
            c.repacked_known = s.is_mul_mat;
            c.repacked = s.repacked;
            c.ith = s.replicate ? 0 : ith;  // a replicated node: this thread computes all of it
            c.nth = s.replicate ? 1 : n;
            // Every thread runs every node even after an error was recorded, so all threads meet
            // the same barriers (an op that meets bad input writes zeros and records the error).
            if (profiling_ && ith == 0) {  // time includes the barrier before the node
                compute_node(*t, c);
                const auto now = std::chrono::steady_clock::now();
                const int k = static_cast<int>(t->op);
                const double dt = std::chrono::duration<double>(now - t_prev).count();
                op_seconds_[k] += dt;
                ++op_calls_[k];
                if (t->op == OpKind::MulMat) {
                    const Tensor& w = *t->src[0];
                    const int id = static_cast<int>(w.type);
                    if (id < kMaxTypeId) {
                        mm_seconds_[id] += dt;
                        ++mm_calls_[id];
                        mm_bytes_[id] += static_cast<double>(w.nbytes());
                    }
                }
                t_prev = now;
                continue;
            }
            compute_node(*t, c);
        }
    };
    pool_.run(run);
    if (errors.failed.load()) throw Error(ErrorKind::InvalidArgument, errors.message);
}

namespace {

// Ops whose thread ith computes exactly rows split_range(dst.nrows(), ith, nth) of dst, reading
// only the same rows of same-shaped sources.
bool row_local(OpKind op) {
    switch (op) {
        case OpKind::Scale: case OpKind::Softcap: case OpKind::Silu: case OpKind::Gelu: case OpKind::GeluErf:
        case OpKind::Tanh: case OpKind::Add: case OpKind::Mul: case OpKind::Div: case OpKind::Swiglu:
        case OpKind::Geglu: case OpKind::RmsNorm: case OpKind::LayerNorm: case OpKind::SoftMax: case OpKind::Rope:
            return true;
        case OpKind::GetRows:  // row r = table[ids[r]]: rows split like the others (ids is 1-D/2-D)
            return true;
        default: return false;
    }
}

// Whether consumer t reads source s row-aligned: row r of t is computed by the thread that owns
// row r under split_range(t.nrows()) and reads only row r of s. Row-local ops index sources by
// the same (i1, i2, i3), so shapes must match; cont/cpy map elements in logical order, so equal
// row length and row count suffice.
bool reads_rows_aligned(const Tensor& t, const Tensor& s) {
    if (row_local(t.op)) return s.same_shape(t) && t.is_contiguous();
    if (t.op == OpKind::Cont || t.op == OpKind::Cpy) return t.src[0] == &s && s.ne[0] == t.ne[0] && s.nrows() == t.nrows();
    return false;
}

struct ByteRange {
    const char* begin;
    const char* end;
    bool overlaps(const ByteRange& o) const { return begin < o.end && o.begin < end; }
};
ByteRange bytes_of(const Tensor& t) {
    const char* p = static_cast<const char*>(t.data);
    return {p, p + t.nbytes()};
}

}  // namespace

// Small row-local nodes (decode: one token's norm, rope, cache store) are "replicated": every
// thread computes all of their rows (ith 0 of 1) instead of its share. They cost a few hundred ns
// each, and afterwards every thread holds the whole output itself, so what reads it next (a
// mul_mat over the full row, flash attention over the cache) needs no barrier. This is only
// sound for ops that write each output element once, with its final value, and never read their
// output back (threads then write the same bytes with the same values, and a thread reading its
// own copy never sees anything else): soft_max (exp pass in place), get_rows (dequantizers),
// quantized cache stores and norms gathering a strided row into the output are left out.
bool CpuBackend::replicable(const Tensor& t, int nth) const {
    if (!replicate_small_ops_ || nth <= 1 || t.nelements() > kReplicateMaxElems || op_work_size(t, nth).shared > 0) return false;
    switch (t.op) {
        case OpKind::Scale: case OpKind::Softcap: case OpKind::Silu: case OpKind::Gelu: case OpKind::GeluErf:
        case OpKind::Tanh: case OpKind::Add: case OpKind::Mul: case OpKind::Div: case OpKind::Swiglu:
        case OpKind::Geglu: case OpKind::Rope:
            break;
        case OpKind::RmsNorm: case OpKind::LayerNorm:
            if (t.src[0]->nb[0] != sizeof(float)) return false;
            break;
        case OpKind::Cont: case OpKind::Cpy:
            if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::BF16) return false;
            break;
        default: return false;
    }
    const ByteRange out = bytes_of(t);  // (an op reading memory it overwrites cannot run twice)
    for (int k = 0; k < kMaxSrc; ++k)  // (a cpy's src[1] is its destination: written, not read)
        if (t.src[k] && !(t.op == OpKind::Cpy && k == 1) && bytes_of(*t.src[k]).overlaps(out)) return false;
    return true;
}

// A node may start without a barrier (threads run ahead into it) when nothing it reads or writes
// can race with the nodes since the last barrier:
//   (1) every source overlapping memory written since the barrier was written by a replicated node
//       (each thread wrote all of it), or by a row-local node of the same shape that this split
//       row-local node reads row-aligned (each thread reads only rows it wrote itself) — norm ->
//       mul -> add chains;
//   (2) its output overlaps no memory read or written since the barrier;
//   (3) at most one node of the phase uses the shared scratch (private slots are fixed per thread).
// Independent nodes (Q/K/V projections of one input, gate/up) thus also run back to back.
void CpuBackend::plan_barriers(std::span<Tensor* const> nodes, int nth) {
    sync_before_.assign(nodes.size(), 1);  // (the first compute node needs none: run() syncs)
    replicate_.assign(nodes.size(), 0);
    if (nth <= 1) return;
    auto& written = plan_written_;  // nodes computed since the last barrier (and whether replicated)
    auto& touched = plan_touched_;  // bytes read or written since the last barrier
    written.clear();
    touched.clear();
    bool shared_scratch = false;
    bool first = true;
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Tensor* t = nodes[i];
        if (t->op == OpKind::View || t->op == OpKind::None) {
            sync_before_[i] = 0;  // computes nothing, never waits
            continue;
        }
        const WorkSize ws = op_work_size(*t, nth);
        const bool rep = replicable(*t, nth);
        // (a mul_mat reusing its sibling's quantized activations only reads the shared scratch)
        bool can_skip = !first && !(shared_scratch && ws.shared > 0 && !act_ready_[i]);
        if (can_skip) {
            const ByteRange out = bytes_of(*t);
            for (const auto& [b, e] : touched)
                if (ByteRange{b, e}.overlaps(out)) can_skip = false;
            for (int k = 0; k < kMaxSrc && can_skip; ++k) {
                const Tensor* s = t->src[k];
                if (!s) continue;
                const ByteRange in = bytes_of(*s);
                for (const auto& [w, w_rep] : written) {
                    if (w_rep || !bytes_of(*w).overlaps(in)) continue;
                    // s is w itself (or the graph tensor a fused node stands for: same bytes,
                    // same layout) or a same-rows reshape of it (row r of s is row r of w).
                    const bool same_tensor = w == s || (w->data == s->data && w->same_shape(*s) &&
                                                        std::equal(std::begin(w->nb), std::end(w->nb), std::begin(s->nb)));
                    const bool same_rows = same_tensor || (s->view_src && s->data == w->data && s->is_contiguous() &&
                                                           s->ne[0] == w->ne[0] && s->nrows() == w->nrows());
                    const bool row_aligned = !rep && same_rows && row_local(w->op) && w->is_contiguous() &&
                                             reads_rows_aligned(*t, *s);
                    if (!row_aligned) can_skip = false;
                }
            }
        }
        const bool first_node = first;
        first = false;
        if (!can_skip) {
            written.clear();
            touched.clear();
            shared_scratch = false;
        }
        sync_before_[i] = (can_skip || first_node) ? 0 : 1;
        replicate_[i] = rep ? 1 : 0;
        written.emplace_back(t, rep);
        const ByteRange out = bytes_of(*t);
        touched.emplace_back(out.begin, out.end);
        for (const Tensor* s : t->src)
            if (s) {
                const ByteRange in = bytes_of(*s);
                touched.emplace_back(in.begin, in.end);
            }
        shared_scratch = shared_scratch || ws.shared > 0;
    }
}

// Sibling mul_mats (Q/K/V of one input, gate/up) quantize the same activations: a mul_mat that
// directly follows one with the same input (only views between) reuses what the first left in
// the scratch instead of quantizing again (and skips that phase's barrier for many rows).
void CpuBackend::plan_activation_reuse(std::span<Tensor* const> nodes) {
    act_ready_.assign(nodes.size(), 0);
    if (!reuse_activations_) return;
    const Tensor* prev = nullptr;  // the previous computing node
    for (size_t i = 0; i < nodes.size(); ++i) {
        const Tensor* t = nodes[i];
        if (t->op == OpKind::View || t->op == OpKind::None) continue;
        if (prev && mul_mat_shares_activations(*prev, *t)) act_ready_[i] = 1;
        prev = t;
    }
}

size_t CpuBackend::barriers_planned() const {
    size_t n = 0;
    for (uint8_t b : sync_before_) n += b;
    return n;
}

void CpuBackend::set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) {
    HEARTH_ASSERT(t.data && offset + bytes <= t.nbytes());
    std::memcpy(static_cast<char*>(t.data) + offset, src, bytes);
}

void CpuBackend::get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) {
    HEARTH_ASSERT(t.data && offset + bytes <= t.nbytes());
    std::memcpy(dst, static_cast<const char*>(t.data) + offset, bytes);
}

}  // namespace hearth::cpu
