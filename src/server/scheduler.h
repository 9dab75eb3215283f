// The slot scheduler: N slots (one KV sequence each) over one decoding backend, fed from a bounded
// FIFO queue. Each step builds one Batch holding one token of every generating slot plus a bounded
// chunk of pending prompt tokens (so long prompts are interleaved and never stall running streams),
// decodes it, samples every slot that asked for logits and streams Events back. A new task goes to
// the idle slot whose cached tokens share the longest prefix with its prompt (kv_remove of the
// rest), reported as cached tokens. Cancelled tasks free their slot on the next step; cancelled
// queued tasks never start.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/batch.h"
#include "server/metrics.h"
#include "server/task.h"
#include "server/text_stream.h"

namespace hearth::server {

// What the scheduler needs from the runtime (hearth::Context in production, a fake in tests).
class DecodeBackend {
public:
    virtual ~DecodeBackend() = default;
    virtual int32_t n_vocab() const = 0;
    virtual int64_t n_ctx() const = 0;  // positions per sequence
    virtual int n_batch() const = 0;    // most tokens one decode() accepts
    virtual void decode(const Batch& batch) = 0;             // throws hearth::Error
    virtual const float* logits(size_t batch_index) const = 0;
    virtual void kv_remove(int32_t seq, int32_t p0, int32_t p1) = 0;
    // Adds delta to the positions of seq's cache in [p0, p1) (context shift). Backends that cannot
    // shift keep this default, which throws Error(Unsupported).
    virtual void kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta);
};

// What it needs from the tokenizer.
class TokenText {
public:
    virtual ~TokenText() = default;
    virtual std::string piece(int32_t token) const = 0;
    virtual bool is_eog(int32_t token) const = 0;
};

struct SchedulerConfig {
    int n_slots = 1;
    size_t max_queue = 64;     // queued (not yet started) tasks beyond this are refused (429)
    int prompt_chunk = 512;    // prompt tokens per step while other slots are generating
    // A slot whose context is full: false ends the task with finish_reason "length"; true drops
    // half of the tokens after the first n_keep and goes on (llama.cpp's context shift).
    bool context_shift = false;
    int32_t n_keep = 0;        // positions a context shift keeps (BOS included); -1: the task's whole prompt
};

struct SlotInfo {
    int id = 0;
    bool processing = false;
    int64_t n_prompt = 0;   // prompt tokens of the current/last task
    int64_t n_past = 0;     // tokens in this slot's KV
    int64_t n_decoded = 0;  // tokens generated for the current/last task
    int64_t n_cached = 0;   // tokens reused at the start of the current/last task
    int64_t n_shifts = 0;   // context shifts during the current/last task
};

class Scheduler {
public:
    Scheduler(DecodeBackend& backend, const TokenText& text, SchedulerConfig config, Metrics* metrics);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    void start();
    void stop();  // ends the loop thread; in-flight tasks get an Error event

    // Queues a task. Throws ApiError(429) when the queue is full, ApiError(503) after stop().
    void submit(Task task);

    std::vector<SlotInfo> slots() const;
    MetricsGauges gauges() const;
    size_t queued() const;
    size_t in_flight() const;  // queued + running
    void cancel_all();          // every queued and running task ends now (drain timeout)

private:
    struct Slot {
        int id = 0;
        std::optional<Task> task;
        std::vector<int32_t> cache;  // tokens whose KV is in sequence `id` (positions 0..n-1)
        size_t n_prompt_done = 0;    // prompt tokens of the task already in the KV
        int32_t pending_token = -1;  // sampled, not yet decoded
        std::unique_ptr<Sampler> sampler;
        std::unique_ptr<TextStream> text;
        TaskStats stats;
        int64_t n_shifts = 0;
        Clock::time_point t_start, t_first, t_last;
        uint64_t last_used = 0;
        bool generating() const { return pending_token >= 0; }
    };

    void loop();
    void assign_queued();  // under mu_
    void start_task(Slot& slot, Task task);
    void build_batch(Batch& batch, std::vector<Slot*>& owner);
    void after_decode(const Batch& batch, const std::vector<Slot*>& owner);
    void sample_slot(Slot& slot, const float* logits);
    // Context shift of a full slot (cfg_.context_shift); false when nothing can be dropped.
    bool shift_slot(Slot& slot);
    // Fills masked_ with the logits of allowed tokens (-inf elsewhere); false when none is allowed.
    bool mask_tokens(const float* logits, const std::function<bool(int32_t)>& allowed);
    void finish(Slot& slot, const std::string& reason);
    void fail(Slot& slot, int status, const std::string& message);
    void release(Slot& slot);

    DecodeBackend& backend_;
    const TokenText& text_;
    SchedulerConfig cfg_;
    Metrics* metrics_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Task> queue_;
    std::vector<Slot> slots_;  // touched by the loop thread; snapshot fields read under mu_
    bool running_ = false;
    bool stopping_ = false;
    bool cancel_all_ = false;
    uint64_t use_counter_ = 0;
    size_t prompt_rr_ = 0;  // round-robin start among prompt-processing slots
    // Constrained sampling (loop thread only): every token's piece and EOG flag, built on first
    // use, and the masked copy of a slot's logits.
    std::vector<std::string> pieces_;
    std::vector<uint8_t> eog_;
    std::vector<float> masked_;
    std::vector<int32_t> order_;
    std::thread thread_;
};

}  // namespace hearth::server
