// Tests of the CPU thread pool: every thread runs, barriers order phases, exceptions propagate,
// and repeated runs (the per-graph pattern) keep working.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
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

// More threads than cores (the spinning waiter must give the core away after its spin budget,
// else every barrier costs a scheduler time slice): phases stay ordered and the run finishes.
TEST(CoreThreadPool, BarrierUnderOversubscription) {
    const int n = 8;
    ThreadPool pool(n);
    std::vector<int> slot(n, 0);
    std::atomic<int> errors{0};
    for (int run = 0; run < 5; ++run) {
        pool.run([&](int ith, int nth) {
            for (int p = 0; p < 200; ++p) {
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

// Wait accounting: with timing on, every thread counts each barrier and the thread that arrives
// early accumulates the wait; reset_timing() clears both.
TEST(CoreThreadPool, BarrierTimingCountsWaits) {
    ThreadPool pool(2);
    pool.set_timing(true);
    pool.run([&](int ith, int) {
        if (ith == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        pool.barrier();
        pool.barrier();
    });
    EXPECT_EQ(pool.barriers_passed(), 2u);
    EXPECT_GE(pool.barrier_wait_ns(0), 15'000'000u);  // thread 0 waited for the sleeper
    EXPECT_LT(pool.barrier_wait_ns(1), pool.barrier_wait_ns(0));
    pool.reset_timing();
    EXPECT_EQ(pool.barriers_passed(), 0u);
    EXPECT_EQ(pool.barrier_wait_ns(0), 0u);
    pool.set_timing(false);
    pool.run([&](int, int) { pool.barrier(); });
    EXPECT_EQ(pool.barriers_passed(), 0u);  // off: nothing counted
}
