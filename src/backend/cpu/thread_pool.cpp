// Thread pool with spin-then-yield synchronisation. Workers wait for a new "generation" (one per
// run()); they spin briefly, then yield, then sleep on std::atomic::wait so an idle engine costs
// nothing. barrier() is a sense-reversing counter barrier that spins and yields, never sleeps.
#include "backend/cpu/thread_pool.h"

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

constexpr int kSpins = 64;           // pause-loop iterations before yielding
constexpr int kYieldsBeforeSleep = 2000;  // yields before an idle worker sleeps

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = static_cast<int>(std::thread::hardware_concurrency());
    if (n_threads <= 0) n_threads = 1;
    n_threads_ = n_threads;
    workers_.reserve(static_cast<size_t>(n_threads - 1));
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::spin_wait_generation(uint32_t seen) {
    for (int i = 0; i < kSpins; ++i) {
        if (generation_.load(std::memory_order_acquire) != seen) return;
        cpu_relax();
    }
    for (int i = 0; i < kYieldsBeforeSleep; ++i) {
        if (generation_.load(std::memory_order_acquire) != seen) return;
        std::this_thread::yield();
    }
    while (generation_.load(std::memory_order_acquire) == seen) generation_.wait(seen, std::memory_order_acquire);
}

void ThreadPool::worker_main(int ith) {
    uint32_t seen = 0;
    for (;;) {
        spin_wait_generation(seen);
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
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    try {
        fn(0, n_threads_);
    } catch (...) {
        if (!has_error_.exchange(true)) error_ = std::current_exception();
    }
    const int others = n_threads_ - 1;
    int spins = 0;
    while (n_done_.load(std::memory_order_acquire) != others) {
        if (++spins < kSpins)
            cpu_relax();
        else
            std::this_thread::yield();
    }
    job_ = nullptr;
    if (has_error_.load()) std::rethrow_exception(error_);
}

void ThreadPool::barrier() {
    if (n_threads_ == 1) return;
    const uint32_t phase = barrier_phase_.load(std::memory_order_acquire);
    if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_threads_) {
        barrier_count_.store(0, std::memory_order_relaxed);
        barrier_phase_.fetch_add(1, std::memory_order_acq_rel);
        return;
    }
    int spins = 0;
    while (barrier_phase_.load(std::memory_order_acquire) == phase) {
        if (++spins < kSpins)
            cpu_relax();
        else
            std::this_thread::yield();
    }
}

}  // namespace hearth::cpu
