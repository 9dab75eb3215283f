// Decode-overhead machinery of the CPU backend: dynamic work-unit claiming (OpCtx::unit_counter)
// hands every unit to exactly one thread, and a dynamically split quantized mul_mat gives bitwise
// the same result as one thread computing it, run after run.
#include <gtest/gtest.h>

#include <atomic>
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
