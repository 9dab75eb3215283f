// Thread pool with spin-then-yield synchronisation. Workers wait for a new "generation" (one per
// run()); they spin (pause loop) for a bounded time, then yield, then sleep on std::atomic::wait
// so an idle engine costs nothing. barrier() is a sense-reversing counter barrier that spins for a
// bounded time and then yields, never sleeps.
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/error.h"

namespace hearth::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

using Clock = std::chrono::steady_clock;

// How long a waiter spins on the pause instruction before it starts yielding its CPU. On dedicated
// cores a barrier wait is a few to a few hundred µs (the imbalance of one op); a sched_yield per
// short spin costs a syscall each time and, on a busy machine, gives the core away. Bounded so an
// oversubscribed pool (more threads than free cores) loses at most this much per wait to a
// spinner holding the core its straggler needs. Env HEARTH_SPIN_US overrides (0 = yield at once).
Clock::duration spin_budget() {
    static const Clock::duration d = [] {
        long us = 2;
        if (const char* e = std::getenv("HEARTH_SPIN_US"); e && *e) us = std::strtol(e, nullptr, 10);
        return std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us < 0 ? 0 : us));
    }();
    return d;
}
constexpr int kPausesPerClockRead = 32;
constexpr auto kYieldBeforeSleep = std::chrono::milliseconds(2);  // idle workers: yield this long, then sleep

// Spins (pause loop) until done() or the spin budget ran out; true when done() held.
template <class Done>
bool spin_until(const Done& done) {
    const Clock::duration budget = spin_budget();
    if (budget.count() == 0) return done();
    const Clock::time_point t0 = Clock::now();
    for (;;) {
        for (int i = 0; i < kPausesPerClockRead; ++i) {
            if (done()) return true;
            cpu_relax();
        }
        if (Clock::now() - t0 >= budget) return done();
    }
}

}  // namespace

thread_local int ThreadPool::tls_ith_ = 0;

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = static_cast<int>(std::thread::hardware_concurrency());
    if (n_threads <= 0) n_threads = 1;
    n_threads_ = n_threads;
    slots_.resize(static_cast<size_t>(n_threads));
    workers_.reserve(static_cast<size_t>(n_threads - 1));
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::reset_timing() {
    for (ThreadSlot& s : slots_) s = ThreadSlot{};
}

void ThreadPool::wait_generation(uint32_t seen) {
    auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (spin_until(changed)) return;
    const Clock::time_point t0 = Clock::now();
    while (Clock::now() - t0 < kYieldBeforeSleep) {
        if (changed()) return;
        std::this_thread::yield();
    }
    while (generation_.load(std::memory_order_acquire) == seen) generation_.wait(seen, std::memory_order_acquire);
}

void ThreadPool::worker_main(int ith) {
    tls_ith_ = ith;
    uint32_t seen = 0;
    for (;;) {
        wait_generation(seen);
        seen = generation_.load(std::memory_order_acquire);
        if (stop_.load(std::memory_order_acquire)) return;
        try {
            (*job_)(ith, n_threads_);
        } catch (...) {
            if (!has_error_.exchange(true)) error_ = std::current_exception();
        }
        n_done_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    job_ = &fn;
    has_error_.store(false);
    error_ = nullptr;
    n_done_.store(0, std::memory_order_relaxed);
    const int saved_ith = tls_ith_;  // the caller may itself be a worker of another pool
    tls_ith_ = 0;
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    try {
        fn(0, n_threads_);
    } catch (...) {
        if (!has_error_.exchange(true)) error_ = std::current_exception();
    }
    tls_ith_ = saved_ith;
    const int others = n_threads_ - 1;
    auto all_done = [&] { return n_done_.load(std::memory_order_acquire) == others; };
    if (!spin_until(all_done))
        while (!all_done()) std::this_thread::yield();
    job_ = nullptr;
    if (has_error_.load()) std::rethrow_exception(error_);
}

void ThreadPool::wait_barrier_phase(uint32_t phase) {
    auto flipped = [&] { return barrier_phase_.load(std::memory_order_acquire) != phase; };
    if (spin_until(flipped)) return;
    while (!flipped()) std::this_thread::yield();
}

void ThreadPool::barrier() {
    if (n_threads_ == 1) return;
    const bool timing = timing_;
    const Clock::time_point t0 = timing ? Clock::now() : Clock::time_point{};
    const uint32_t phase = barrier_phase_.load(std::memory_order_acquire);
    if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_threads_) {
        barrier_count_.store(0, std::memory_order_relaxed);
        barrier_phase_.fetch_add(1, std::memory_order_acq_rel);
    } else {
        wait_barrier_phase(phase);
    }
    if (timing && tls_ith_ < n_threads_) {
        ThreadSlot& s = slots_[static_cast<size_t>(tls_ith_)];
        s.wait_ns += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
        ++s.n_barriers;
    }
}

}  // namespace hearth::cpu
