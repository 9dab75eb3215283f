// Scheduler tests on a miniature transformer block (norm, quantized and float projections, rope,
// KV-cache writes, flash and classic attention, SwiGLU FFN): a graph split over TWO CPU backends
// must give bit-identical results to one backend; weights pull nodes to their backend; repeated
// decode steps reuse the arenas; bad input at compute time throws and leaves no hung threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <unordered_map>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/scheduler.h"
#include "core/error.h"
#include "core/graph.h"
#include "core/mask.h"
#include "core/ops.h"
#include "test_core_util.h"

using namespace hearth;
using testutil::random_leaf;

namespace {

struct Block {
    Tensor* out = nullptr;      // [64, T] block output
    Tensor* scores = nullptr;   // [n_kv, T, 4] classic softmax attention weights
    Tensor* k_cache = nullptr;  // F16 [32, 16]
    Tensor* wq = nullptr;
    Tensor* q = nullptr;        // the wq projection node
    Tensor* ids = nullptr;      // token ids of the embedding lookup
};

// Everything comes from `seed`, so two builds hold identical data.
Block build_block(Context& ctx, Graph& g, int T = 5, int n_past = 3, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    Block b;
    const int64_t E = 64, HD = 16, NH = 4, NKV = 2, FF = 128, CTX = 16;
    const int n_kv = n_past + T;
    Tensor* tok_embd = random_leaf(ctx, rng, DType::Q8_0, {E, 100}, "token_embd");
    b.ids = ctx.new_tensor(DType::I32, {T}, "inp_tokens");
    ctx.alloc_data(b.ids);
    for (int i = 0; i < T; ++i) static_cast<int32_t*>(b.ids->data)[i] = (i * 37) % 100;
    Tensor* pos = ctx.new_tensor(DType::I32, {T}, "inp_pos");
    ctx.alloc_data(pos);
    std::vector<int32_t> qp, kp;
    for (int i = 0; i < T; ++i) qp.push_back(n_past + i);
    for (int j = 0; j < n_kv; ++j) kp.push_back(j);
    std::copy(qp.begin(), qp.end(), static_cast<int32_t*>(pos->data));
    Tensor* mask = ctx.new_tensor(DType::F32, {n_kv, T}, "kq_mask");
    ctx.alloc_data(mask);
    MaskSpec ms;
    ms.n_kv = n_kv;
    ms.n_q = T;
    ms.q_pos = qp.data();
    ms.kv_pos = kp.data();
    fill_kq_mask(ms, static_cast<float*>(mask->data), n_kv);

    Tensor* w_norm = random_leaf(ctx, rng, DType::F32, {E}, "attn_norm.weight", 0.5f, 1.5f);
    b.wq = random_leaf(ctx, rng, DType::Q8_0, {E, NH * HD}, "attn_q.weight");
    Tensor* wk = random_leaf(ctx, rng, DType::F16, {E, NKV * HD}, "attn_k.weight");
    Tensor* wv = random_leaf(ctx, rng, DType::F32, {E, NKV * HD}, "attn_v.weight");
    Tensor* wo = random_leaf(ctx, rng, DType::Q4_0, {NH * HD, E}, "attn_output.weight");
    Tensor* wg = random_leaf(ctx, rng, DType::Q4_0, {E, FF}, "ffn_gate.weight");
    Tensor* wu = random_leaf(ctx, rng, DType::F16, {E, FF}, "ffn_up.weight");
    Tensor* wd = random_leaf(ctx, rng, DType::Q8_0, {FF, E}, "ffn_down.weight");
    b.k_cache = random_leaf(ctx, rng, DType::F16, {NKV * HD, CTX}, "cache_k");
    Tensor* v_cache = random_leaf(ctx, rng, DType::F16, {NKV * HD, CTX}, "cache_v");

    Tensor* x = ops::get_rows(ctx, tok_embd, b.ids)->set_name("inp_embd");  // [E, T]
    Tensor* n = ops::mul(ctx, ops::rms_norm(ctx, x, 1e-6f)->set_name("norm"), w_norm)->set_name("attn_norm");
    ops::RopeParams rp;
    rp.n_dims = HD;
    rp.mode = ops::RopeMode::NeoX;
    b.q = ops::mul_mat(ctx, b.wq, n)->set_name("Qcur");
    Tensor* q = ops::rope(ctx, ops::reshape(ctx, b.q, {HD, NH, T}), pos, rp)->set_name("Qrope");
    Tensor* k = ops::rope(ctx, ops::reshape(ctx, ops::mul_mat(ctx, wk, n)->set_name("Kcur"), {HD, NKV, T}), pos, rp)->set_name("Krope");
    Tensor* v = ops::mul_mat(ctx, wv, n)->set_name("Vcur");
    const size_t es = 2;
    Tensor* store_k = ops::cpy(ctx, k, ops::view_2d(ctx, b.k_cache, NKV * HD, T, b.k_cache->nb[1], n_past * b.k_cache->nb[1]))->set_name("store_k");
    Tensor* store_v = ops::cpy(ctx, v, ops::view_2d(ctx, v_cache, NKV * HD, T, v_cache->nb[1], n_past * v_cache->nb[1]))->set_name("store_v");
    g.expand(store_k);
    g.expand(store_v);
    Tensor* kv = ops::view_3d(ctx, b.k_cache, HD, n_kv, NKV, b.k_cache->nb[1], HD * es, 0);
    Tensor* vv = ops::view_3d(ctx, v_cache, HD, n_kv, NKV, v_cache->nb[1], HD * es, 0);
    Tensor* qp3 = ops::permute(ctx, q, 0, 2, 1, 3);  // [HD, T, NH]
    Tensor* att = ops::flash_attn(ctx, qp3, kv, vv, mask, 0.25f)->set_name("attn");  // [HD, NH, T]
    Tensor* o = ops::mul_mat(ctx, wo, ops::reshape(ctx, att, {NH * HD, T}))->set_name("attn_out");
    Tensor* h = ops::add(ctx, o, x)->set_name("ffn_inp");
    Tensor* f = ops::swiglu(ctx, ops::mul_mat(ctx, wg, h), ops::mul_mat(ctx, wu, h))->set_name("ffn_act");
    b.out = ops::add(ctx, ops::mul_mat(ctx, wd, f), h)->set_name("l_out");
    b.out->flags |= kFlagOutput;
    b.scores = ops::soft_max(ctx, ops::mul_mat(ctx, kv, qp3), mask, 0.25f)->set_name("kq_soft_max");
    b.scores->flags |= kFlagOutput;
    g.expand(b.out);
    g.expand(b.scores);
    return b;
}

std::vector<double> cache_values(const Block& b) { return testutil::values(*b.k_cache); }

}  // namespace

TEST(CoreScheduler, SplitOverTwoCpuBackendsMatchesOne) {
    Context c1;
    Graph g1;
    Block b1 = build_block(c1, g1);
    cpu::CpuBackend one(2, "CPU");
    Scheduler s1({&one});
    s1.compute(g1);
    EXPECT_EQ(s1.stats().n_splits, 1u);
    EXPECT_EQ(s1.stats().n_copies, 0u);

    Context c2;
    Graph g2;
    Block b2 = build_block(c2, g2);
    cpu::CpuBackend a(2, "CPU-A"), b(2, "CPU-B");
    Scheduler s2({&a, &b});
    std::unordered_map<const Tensor*, int> placement;
    for (size_t i = 0; i < g2.size(); ++i) placement[g2.node(i)] = static_cast<int>(i / 3) % 2;
    s2.set_placement_override([&](const Tensor& t) {
        auto it = placement.find(&t);
        return it == placement.end() ? -1 : it->second;
    });
    s2.compute(g2);
    EXPECT_GT(s2.stats().n_splits, 3u);
    EXPECT_GT(s2.stats().n_copies, 0u);
    EXPECT_GT(s2.stats().arena_bytes[0], 0u);
    EXPECT_GT(s2.stats().arena_bytes[1], 0u);

    EXPECT_EQ(testutil::values(*b1.out), testutil::values(*b2.out));
    EXPECT_EQ(testutil::values(*b1.scores), testutil::values(*b2.scores));
    EXPECT_EQ(cache_values(b1), cache_values(b2));
    for (double v : testutil::values(*b1.out)) ASSERT_TRUE(std::isfinite(v));

    // Computing the same graph again (sources were restored after the copies) gives the same.
    const std::vector<double> before = testutil::values(*b2.out);
    s2.compute(g2);
    EXPECT_EQ(testutil::values(*b2.out), before);
}

TEST(CoreScheduler, WeightsPullNodesToTheirBackend) {
    Context ctx;
    Graph g;
    Block blk = build_block(ctx, g);
    cpu::CpuBackend a(1, "CPU-A"), b(1, "CPU-B");
    // Move attn_q.weight into a buffer of backend b.
    auto buf = b.alloc_buffer(blk.wq->nbytes());
    std::memcpy(buf->base(), blk.wq->data, blk.wq->nbytes());
    blk.wq->data = buf->base();
    blk.wq->buffer = buf.get();
    Scheduler s({&a, &b});
    s.compute(g);
    EXPECT_EQ(s.backend_of(blk.q), 1);
    EXPECT_EQ(s.backend_of(blk.out), 1);  // later nodes stay where the previous one ran
    EXPECT_EQ(s.backend_of(g.nodes().front()), 0);
    EXPECT_GE(s.stats().n_splits, 2u);
}

TEST(CoreScheduler, DecodeStepsReuseTheArena) {
    cpu::CpuBackend cpu(2);
    Scheduler s({&cpu});
    Context ctx;
    Graph g;
    size_t capacity = 0;
    for (int step = 0; step < 6; ++step) {
        ctx.reset();
        g.clear();
        build_block(ctx, g, /*T=*/1, /*n_past=*/3, /*seed=*/7 + step);  // same shapes, new data
        s.compute(g);
        if (step == 0) capacity = s.stats().arena_capacity[0];
        EXPECT_EQ(s.stats().arena_capacity[0], capacity) << "step " << step;
        EXPECT_LE(s.stats().arena_bytes[0], capacity);
    }
}

TEST(CoreScheduler, BadTokenIdThrowsAndSchedulerStaysUsable) {
    cpu::CpuBackend cpu(3);
    Scheduler s({&cpu});
    Context ctx;
    Graph g;
    Block blk = build_block(ctx, g);
    static_cast<int32_t*>(blk.ids->data)[2] = 100;  // table has 100 rows
    try {
        s.compute(g);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("get_rows"), std::string::npos);
    }
    static_cast<int32_t*>(blk.ids->data)[2] = 99;
    EXPECT_NO_THROW(s.compute(g));
}

TEST(CoreCpuBackend, ElementwiseChainsSkipBarriersAndStayCorrect) {
    Context ctx;
    std::mt19937 rng(11);
    Tensor* x = random_leaf(ctx, rng, DType::F32, {640, 7}, "x");
    Tensor* w = random_leaf(ctx, rng, DType::F32, {640}, "w", 0.5f, 1.5f);
    Tensor* wm = random_leaf(ctx, rng, DType::F16, {640, 640}, "wm", -0.05f, 0.05f);
    Tensor* cache = random_leaf(ctx, rng, DType::F16, {640, 7 * 12}, "cache");
    Graph g;
    Tensor* cur = x;
    for (int i = 0; i < 12; ++i) {
        Tensor* n = ops::mul(ctx, ops::rms_norm(ctx, cur, 1e-6f), w);
        g.expand(ops::cpy(ctx, n, ops::view_2d(ctx, cache, 640, 7, cache->nb[1], 7 * i * cache->nb[1])));
        Tensor* a = ops::add(ctx, ops::silu(ctx, n), cur);
        Tensor* g = ops::geglu(ctx, a, n);
        cur = (i % 3 == 2) ? ops::mul_mat(ctx, wm, g) : ops::scale(ctx, ops::softcap(ctx, g, 5.0f), 0.9f);
    }
    cur->flags |= kFlagOutput;
    g.expand(cur);
    cpu::CpuBackend cpu(3);
    Scheduler s({&cpu});
    s.compute(g);
    EXPECT_LT(cpu.barriers_planned() * 2, g.size()) << "barriers " << cpu.barriers_planned() << " of " << g.size();
    const std::vector<double> got = testutil::values(*cur);
    const std::vector<double> got_cache = testutil::values(*cache);
    for (Tensor* n : g.nodes()) cpu::compute_reference(*n);
    // (F16 rounding of mul_mat activations may flip at a rounding boundary: loose bound)
    EXPECT_LE(testutil::nmse(got, testutil::values(*cur)), 1e-6);
    EXPECT_LE(testutil::nmse(got_cache, testutil::values(*cache)), 1e-6);
    for (int rep = 0; rep < 20; ++rep) {  // races would show up as run-to-run differences
        s.compute(g);
        ASSERT_EQ(testutil::values(*cur), got) << "run " << rep;
        ASSERT_EQ(testutil::values(*cache), got_cache) << "run " << rep;
    }
}

namespace {

// A stand-in for a device backend: computes with an inner CPU backend but reports is_host() ==
// false and owns its buffers, so the scheduler must copy host leaves in and keep cache writes
// (which cannot go through a copy) on a host backend.
class FakeDevice final : public Backend {
public:
    class Buffer final : public BackendBuffer {
    public:
        Buffer(FakeDevice& dev, std::unique_ptr<BackendBuffer> inner) : dev_(dev), inner_(std::move(inner)) {}
        void* base() override { return inner_->base(); }
        size_t size() const override { return inner_->size(); }
        Backend& backend() override { return dev_; }

    private:
        FakeDevice& dev_;
        std::unique_ptr<BackendBuffer> inner_;
    };
    const char* name() const override { return "DEV"; }
    bool is_host() const override { return false; }
    std::unique_ptr<BackendBuffer> alloc_buffer(size_t bytes) override {
        return std::make_unique<Buffer>(*this, cpu_.alloc_buffer(bytes));
    }
    bool supports_op(const Tensor& node) const override { return cpu_.supports_op(node); }
    void compute(std::span<Tensor* const> nodes) override {
        ++computes;
        cpu_.compute(nodes);
    }
    void set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) override {
        ++uploads;
        cpu_.set_tensor(t, src, offset, bytes);
    }
    void get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) override { cpu_.get_tensor(t, dst, offset, bytes); }
    int computes = 0;
    int uploads = 0;

private:
    cpu::CpuBackend cpu_{2, "DEV-inner"};
};

}  // namespace

TEST(CoreScheduler, NonHostBackendGetsLeafCopiesAndCacheWritesStayOnHost) {
    Context c1;
    Graph g1;
    Block b1 = build_block(c1, g1);
    cpu::CpuBackend one(2);
    Scheduler s1({&one});
    s1.compute(g1);

    Context c2;
    Graph g2;
    Block b2 = build_block(c2, g2);
    FakeDevice dev;
    cpu::CpuBackend cpu(2);
    Scheduler s2({&dev, &cpu});
    s2.compute(g2);
    EXPECT_EQ(s2.backend_of(g2.find("store_k")), 1);  // the cache is host memory
    EXPECT_EQ(s2.backend_of(b2.out), 0);
    EXPECT_GT(dev.computes, 0);
    EXPECT_GT(dev.uploads, 0);
    EXPECT_GT(s2.stats().n_copies, 0u);
    EXPECT_EQ(testutil::values(*b1.out), testutil::values(*b2.out));
    EXPECT_EQ(testutil::values(*b1.scores), testutil::values(*b2.scores));
    EXPECT_EQ(cache_values(b1), cache_values(b2));
}
