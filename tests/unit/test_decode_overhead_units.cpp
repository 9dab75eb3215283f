// Decode-overhead machinery of the CPU backend: dynamic work-unit claiming (OpCtx::unit_counter,
// and the contiguous ranges of next_contiguous) hands every unit to exactly one thread; a dynamically split quantized mul_mat, replicated small
// nodes and sibling mul_mats reusing quantized activations give bitwise the results of one thread
// without them, run after run.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/thread_pool.h"
#include "backend/scheduler.h"
#include "core/context.h"
#include "core/graph.h"
#include "core/ops.h"
#include "quant/quant.h"
#include "test_core_util.h"

namespace hearth {
namespace {

TEST(DecodeOverheadUnits, EveryUnitClaimedExactlyOnce) {
    for (int nth : {1, 2, 3, 8}) {  // 8 threads on a 2-core box: claims interleave under preemption
        cpu::ThreadPool pool(nth);
        for (int64_t n_units : {0, 1, 5, 64, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n_units));
            std::atomic<int64_t> counter{0};
            pool.run([&](int ith, int n) {
                cpu::OpCtx c;
                c.ith = ith;
                c.nth = n;
                c.unit_counter = &counter;
                for (int64_t u = cpu::first_unit(c); u < n_units; u = cpu::next_unit(c, u)) hits[size_t(u)].fetch_add(1);
            });
            for (int64_t u = 0; u < n_units; ++u) ASSERT_EQ(hits[size_t(u)].load(), 1) << "unit " << u << " nth " << nth;
        }
    }
}

TEST(DecodeOverheadUnits, StaticFallbackCoversEveryUnit) {
    std::vector<int> hits(37, 0);
    for (int ith = 0; ith < 3; ++ith) {
        cpu::OpCtx c;
        c.ith = ith;
        c.nth = 3;
        for (int64_t u = cpu::first_unit(c); u < 37; u = cpu::next_unit(c, u)) ++hits[size_t(u)];
    }
    for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(DecodeOverheadUnits, ContiguousClaimsTakeEveryUnitOnce) {
    for (int nth : {1, 2, 3, 8}) {  // (8 threads on 2 cores: owners and thieves race under preemption)
        cpu::ThreadPool pool(nth);
        for (int64_t n_units : {0, 1, 5, 64, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n_units));
            std::vector<cpu::UnitSlot> slots(static_cast<size_t>(nth));
            pool.run([&](int ith, int n) {
                cpu::OpCtx c;
                c.ith = ith;
                c.nth = n;
                c.unit_ranges = slots.data();
                for (int64_t u = cpu::next_contiguous(c, n_units, -1); u >= 0; u = cpu::next_contiguous(c, n_units, u))
                    hits[size_t(u)].fetch_add(1);
            });
            for (int64_t u = 0; u < n_units; ++u) ASSERT_EQ(hits[size_t(u)].load(), 1) << "unit " << u << " nth " << nth;
        }
    }
}

// Without range slots each thread runs exactly its own range, in order; with them, a thread
// that finds its range empty takes the others' units from their back ends, fullest range first.
TEST(DecodeOverheadUnits, ContiguousClaimsKeepEachThreadsRunTogether) {
    std::vector<int64_t> seen[3];
    for (int ith = 0; ith < 3; ++ith) {
        cpu::OpCtx c;
        c.ith = ith;
        c.nth = 3;
        for (int64_t u = cpu::next_contiguous(c, 10, -1); u >= 0; u = cpu::next_contiguous(c, 10, u)) seen[ith].push_back(u);
    }
    EXPECT_EQ(seen[0], (std::vector<int64_t>{0, 1, 2}));
    EXPECT_EQ(seen[1], (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(seen[2], (std::vector<int64_t>{6, 7, 8, 9}));

    // Thread 1 of 3 alone (the others delayed): its range 3..5 in order, then the back of the
    // fullest range (range 2, 6..9: four left), then of the fullest again (a tie goes to the lower
    // range), never a unit twice.
    std::vector<cpu::UnitSlot> slots(3);
    cpu::OpCtx c;
    c.ith = 1;
    c.nth = 3;
    c.unit_ranges = slots.data();
    std::vector<int64_t> order;
    for (int64_t u = cpu::next_contiguous(c, 10, -1); u >= 0; u = cpu::next_contiguous(c, 10, u)) order.push_back(u);
    EXPECT_EQ(order, (std::vector<int64_t>{3, 4, 5, 9, 2, 8, 1, 7, 0, 6}));
    // A late owner finds its range taken.
    c.ith = 0;
    EXPECT_EQ(cpu::next_contiguous(c, 10, -1), -1);
}

// A Q4_0 weight [K=256, M=300] times x [256, T]: every thread count gives the 1-thread bits.
TEST(DecodeOverheadUnits, DynamicMulMatMatchesOneThreadBitwise) {
    const int64_t K = 256, M = 300;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> wf(size_t(K * M));
    for (float& v : wf) v = d(rng);
    std::vector<uint8_t> wq(dtype_row_bytes(DType::Q4_0, K) * size_t(M));
    for (int64_t r = 0; r < M; ++r)
        quant::quantize_row(DType::Q4_0, wf.data() + r * K, wq.data() + size_t(r) * dtype_row_bytes(DType::Q4_0, K), K);
    for (int64_t T : {1, 3, 17}) {
        std::vector<float> xf(size_t(K * T));
        for (float& v : xf) v = d(rng);
        auto run = [&](int nth) {
            Context ctx;
            Tensor* w = ctx.new_tensor(DType::Q4_0, {K, M}, "w");
            w->data = wq.data();
            w->flags |= kFlagWeight;
            Tensor* x = ctx.new_tensor(DType::F32, {K, T}, "x");
            x->data = xf.data();
            Tensor* y = ops::mul_mat(ctx, w, x);
            y->flags |= kFlagOutput;
            Graph g;
            g.expand(y);
            cpu::CpuBackend cpu(nth);
            Scheduler s({&cpu});
            std::vector<std::vector<float>> outs;
            for (int rep = 0; rep < 5; ++rep) {
                s.compute(g);
                const float* p = static_cast<const float*>(y->data);
                outs.emplace_back(p, p + M * T);
            }
            return outs;
        };
        const auto ref = run(1);
        for (int nth : {2, 3, 6})
            for (const auto& o : run(nth)) ASSERT_EQ(o, ref[0]) << "T " << T << " nth " << nth;
    }
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// A few decode-shaped layers (T tokens): norm -> Q/K/V -> q/k norm + rope -> F16 cache stores ->
// flash attention -> output projection -> residual -> norm -> gate/up -> SwiGLU -> down ->
// residual. Everything comes from `seed`.
struct MiniModel {
    Context ctx;
    Graph g;
    Tensor* out = nullptr;
    std::vector<Tensor*> caches;
};

void build_layers(MiniModel& m, int T, int n_past, uint32_t seed) {
    using testutil::random_leaf;
    std::mt19937 rng(seed);
    Context& ctx = m.ctx;
    const int64_t E = 256, HD = 32, NH = 4, NKV = 2, FF = 512, CTX = 16;
    const int n_kv = n_past + T;
    std::vector<int32_t> pv;
    for (int i = 0; i < T; ++i) pv.push_back(n_past + i);
    Tensor* pos = testutil::int_leaf(ctx, pv, "pos");
    Tensor* mask = ctx.new_tensor(DType::F32, {n_kv, T}, "mask");
    ctx.alloc_data(mask);
    for (int i = 0; i < T; ++i)
        for (int j = 0; j < n_kv; ++j)
            static_cast<float*>(mask->data)[i * n_kv + j] = j <= n_past + i ? 0.0f : -INFINITY;
    Tensor* x = random_leaf(ctx, rng, DType::F32, {E, T}, "x");
    ops::RopeParams rp;
    rp.n_dims = HD;
    rp.mode = ops::RopeMode::NeoX;
    for (int il = 0; il < 3; ++il) {
        Tensor* wn = random_leaf(ctx, rng, DType::F32, {E}, "wn", 0.5f, 1.5f);
        Tensor* wq = random_leaf(ctx, rng, DType::Q4_0, {E, NH * HD}, "wq");
        Tensor* wk = random_leaf(ctx, rng, DType::Q8_0, {E, NKV * HD}, "wk");
        Tensor* wv = random_leaf(ctx, rng, DType::Q4_K, {E, NKV * HD}, "wv");
        Tensor* wqn = random_leaf(ctx, rng, DType::F32, {HD}, "wqn", 0.5f, 1.5f);
        Tensor* wo = random_leaf(ctx, rng, DType::Q4_0, {NH * HD, E}, "wo");
        Tensor* wfn = random_leaf(ctx, rng, DType::F32, {E}, "wfn", 0.5f, 1.5f);
        Tensor* wg = random_leaf(ctx, rng, DType::Q4_0, {E, FF}, "wg");
        Tensor* wu = random_leaf(ctx, rng, DType::Q4_0, {E, FF}, "wu");
        Tensor* wd = random_leaf(ctx, rng, DType::Q6_K, {FF, E}, "wd");
        Tensor* kc = random_leaf(ctx, rng, DType::F16, {NKV * HD, CTX}, "kc");
        Tensor* vc = random_leaf(ctx, rng, DType::F16, {NKV * HD, CTX}, "vc");
        m.caches.push_back(kc);
        m.caches.push_back(vc);
        Tensor* n = ops::mul(ctx, ops::rms_norm(ctx, x, 1e-6f), wn);
        Tensor* q = ops::mul_mat(ctx, wq, n);
        Tensor* k = ops::mul_mat(ctx, wk, n);
        Tensor* v = ops::mul_mat(ctx, wv, n);
        for (Tensor* t : {q, k, v}) m.g.expand(t);
        q = ops::rope(ctx, ops::mul(ctx, ops::rms_norm(ctx, ops::reshape(ctx, q, {HD, NH, T}), 1e-6f), wqn), pos, rp);
        k = ops::rope(ctx, ops::reshape(ctx, k, {HD, NKV, T}), pos, rp);
        m.g.expand(ops::cpy(ctx, ops::reshape(ctx, k, {NKV * HD, T}),
                            ops::view_2d(ctx, kc, NKV * HD, T, kc->nb[1], size_t(n_past) * kc->nb[1])));
        m.g.expand(ops::cpy(ctx, v, ops::view_2d(ctx, vc, NKV * HD, T, vc->nb[1], size_t(n_past) * vc->nb[1])));
        Tensor* kv = ops::view_3d(ctx, kc, HD, n_kv, NKV, kc->nb[1], HD * 2, 0);
        Tensor* vv = ops::view_3d(ctx, vc, HD, n_kv, NKV, vc->nb[1], HD * 2, 0);
        Tensor* att = ops::flash_attn(ctx, ops::permute(ctx, q, 0, 2, 1, 3), kv, vv, mask, 0.2f);
        Tensor* h = ops::add(ctx, ops::mul_mat(ctx, wo, ops::reshape(ctx, att, {NH * HD, T})), x);
        Tensor* f = ops::mul(ctx, ops::rms_norm(ctx, h, 1e-6f), wfn);
        Tensor* a = ops::swiglu(ctx, ops::mul_mat(ctx, wg, f), ops::mul_mat(ctx, wu, f));
        x = ops::add(ctx, ops::mul_mat(ctx, wd, a), h);
    }
    m.out = x;
    m.out->flags |= kFlagOutput;
    m.g.expand(m.out);
}

struct RunResult {
    std::vector<double> out, caches;
    size_t barriers = 0;
    size_t fused = 0;
};

RunResult run_layers(int T, int nth, bool replicate, bool reuse = true, bool fuse = true) {
    MiniModel m;
    build_layers(m, T, /*n_past=*/5, /*seed=*/21);
    cpu::CpuBackend cpu(nth);
    cpu.set_replicate_small_ops(replicate);
    cpu.set_reuse_activations(reuse);
    cpu.set_fuse_ops(fuse);
    Scheduler s({&cpu});
    RunResult r;
    for (int rep = 0; rep < 8; ++rep) {  // the cache rows are rewritten with the same values
        s.compute(m.g);
        std::vector<double> out = testutil::values(*m.out);
        if (rep > 0) {
            EXPECT_EQ(out, r.out) << "run " << rep << " differs (T " << T << ", nth " << nth << ")";
        }
        r.out = out;
    }
    for (Tensor* c : m.caches)
        for (double v : testutil::values(*c)) r.caches.push_back(v);
    r.barriers = cpu.barriers_planned();
    r.fused = cpu.fused_pairs();
    return r;
}

// Replicated small nodes (every thread computes the whole row) and activations reused by sibling
// mul_mats (Q4_0 / Q8_0 / Q4_K projections of one input) change the plan, never the bits: 1
// thread without either, 2/3/5 threads with and without each all agree, and decode needs fewer
// barriers.
TEST(DecodeOverheadReplicate, SameBitsFewerBarriers) {
    for (int T : {1, 2, 9}) {
        const RunResult ref = run_layers(T, 1, false, false);
        EXPECT_EQ(run_layers(T, 1, true, true).out, ref.out) << "T " << T;
        for (int nth : {2, 3, 5}) {
            const RunResult on = run_layers(T, nth, true), off = run_layers(T, nth, false, false);
            EXPECT_EQ(on.out, ref.out) << "T " << T << " nth " << nth;
            EXPECT_EQ(off.out, ref.out) << "T " << T << " nth " << nth;
            EXPECT_EQ(run_layers(T, nth, true, false).out, ref.out) << "T " << T << " nth " << nth;
            EXPECT_EQ(run_layers(T, nth, false, true).out, ref.out) << "T " << T << " nth " << nth;
            EXPECT_EQ(on.caches, ref.caches) << "T " << T << " nth " << nth;
            EXPECT_LE(on.barriers, off.barriers);
            if (T == 1) {
                EXPECT_LT(on.barriers, off.barriers) << "nth " << nth;
            }
        }
    }
}

// Fused rms_norm x weight nodes (cpu_fusion.h: the layer norm, the q-norm and the FFN norm of
// each layer) change neither the bits nor the barriers of the decode and prompt plans.
TEST(DecodeOverheadReplicate, FusedNormsSameBitsSameBarriers) {
    for (int T : {1, 9}) {
        const RunResult ref = run_layers(T, 1, false, false, false);
        EXPECT_EQ(ref.fused, 0u);
        for (int nth : {1, 2, 3}) {
            const RunResult unfused = run_layers(T, nth, true, true, false);
            const RunResult fused = run_layers(T, nth, true, true, true);
            EXPECT_EQ(fused.fused, 9u) << "T " << T << " nth " << nth;  // 3 norms x 3 layers
            EXPECT_EQ(fused.out, ref.out) << "T " << T << " nth " << nth;
            EXPECT_EQ(fused.caches, ref.caches) << "T " << T << " nth " << nth;
            EXPECT_EQ(fused.barriers, unfused.barriers) << "T " << T << " nth " << nth;
        }
    }
}

}  // namespace
}  // namespace hearth
