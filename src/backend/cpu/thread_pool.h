// A fixed pool of worker threads for the CPU backend. run(fn) executes fn(ith, nth) on all nth
// threads (the caller is thread 0) and returns when all are done; inside fn, barrier() syncs them.
// Synchronisation is spin-then-yield on atomics (no condition-variable wakeup per op); idle
// workers between run() calls fall asleep on an atomic wait so they do not burn a shared CPU.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace hearth::cpu {

class ThreadPool {
public:
    // n_threads <= 0: std::thread::hardware_concurrency().
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int n_threads() const { return n_threads_; }

    // Run fn(ith, nth) on every thread; the calling thread runs ith = 0. Not re-entrant.
    // An exception thrown by fn on any thread is rethrown here (the first one) after all finish;
    // fn must still reach every barrier() the other threads reach (check an error flag instead of
    // returning early from a multi-phase op).
    void run(const std::function<void(int ith, int nth)>& fn);

    // All nth threads of the current run() wait here until all arrived.
    void barrier();

    // Wait accounting (off by default; costs two clock reads per barrier when on): nanoseconds
    // each thread spent waiting in barrier() and barriers passed, summed since the last reset.
    void set_timing(bool on) { timing_ = on; }
    uint64_t barrier_wait_ns(int ith) const { return slots_[static_cast<size_t>(ith)].wait_ns; }
    uint64_t barriers_passed() const { return slots_.empty() ? 0 : slots_[0].n_barriers; }
    void reset_timing();

private:
    void worker_main(int ith);
    void wait_generation(uint32_t seen);
    void wait_barrier_phase(uint32_t phase);

    struct alignas(64) ThreadSlot {  // one cache line per thread: no false sharing while timing
        uint64_t wait_ns = 0;
        uint64_t n_barriers = 0;
    };
    static thread_local int tls_ith_;  // ith of the calling thread inside run() (for timing)

    int n_threads_;
    std::vector<std::thread> workers_;
    std::vector<ThreadSlot> slots_;
    bool timing_ = false;
    const std::function<void(int, int)>* job_ = nullptr;
    alignas(64) std::atomic<uint32_t> generation_{0};  // bumped for each run() and for shutdown
    alignas(64) std::atomic<int> n_done_{0};
    alignas(64) std::atomic<int> barrier_count_{0};
    alignas(64) std::atomic<uint32_t> barrier_phase_{0};
    std::atomic<bool> stop_{false};
    std::exception_ptr error_;
    std::atomic<bool> has_error_{false};
};

}  // namespace hearth::cpu
