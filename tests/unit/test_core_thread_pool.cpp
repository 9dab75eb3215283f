// Tests of the CPU thread pool: every thread runs, barriers order phases, exceptions propagate,
// and repeated runs (the per-graph pattern) keep working.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "backend/cpu/thread_pool.h"

using hearth::cpu::ThreadPool;

TEST(CoreThreadPool, EveryThreadRunsOnce) {
    for (int n : {1, 2, 4}) {
        ThreadPool pool(n);
        EXPECT_EQ(pool.n_threads(), n);
        std::vector<std::atomic<int>> hits(n);
        pool.run([&](int ith, int nth) {
            EXPECT_EQ(nth, n);
            hits[ith].fetch_add(1);
        });
        for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
}

TEST(CoreThreadPool, BarrierSeparatesPhases) {
    ThreadPool pool(3);
    const int phases = 50;
    std::vector<int> slot(3, 0);
    std::atomic<int> errors{0};
    for (int run = 0; run < 20; ++run) {
        pool.run([&](int ith, int nth) {
            for (int p = 0; p < phases; ++p) {
                slot[ith] = p;
                pool.barrier();
                for (int t = 0; t < nth; ++t)
                    if (slot[t] != p) errors.fetch_add(1);
                pool.barrier();
            }
        });
    }
    EXPECT_EQ(errors.load(), 0);
}

TEST(CoreThreadPool, ExceptionFromAWorkerIsRethrown) {
    ThreadPool pool(2);
    EXPECT_THROW(pool.run([](int ith, int) {
        if (ith == 1) throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    std::atomic<int> ran{0};
    pool.run([&](int, int) { ran.fetch_add(1); });  // still usable
    EXPECT_EQ(ran.load(), 2);
}

TEST(CoreThreadPool, ManyShortRuns) {
    ThreadPool pool(2);
    std::atomic<long> sum{0};
    for (int i = 0; i < 2000; ++i) pool.run([&](int ith, int) { sum.fetch_add(ith + 1); });
    EXPECT_EQ(sum.load(), 2000L * 3);
}
