// What flows between the HTTP threads and the scheduler: a Task (one generation request, already
// tokenized) and the TaskChannel through which the scheduler streams Events back and the HTTP
// side signals cancellation (client gone). Channels are shared_ptr-owned by both sides.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sampling/sampler.h"
#include "server/json_constraint.h"

namespace hearth::server {

using Clock = std::chrono::steady_clock;

// One generated token as the client may see it in logprobs.
struct TokenInfo {
    int32_t id = 0;
    std::string piece;  // raw bytes of the token (may be partial UTF-8)
    float logprob = 0;
    std::vector<TokenLogprob> top;  // top_logprobs alternatives, highest first
};

struct TaskStats {
    int32_t slot = -1;
    int64_t prompt_n = 0;     // prompt tokens evaluated in this request
    int64_t cached_n = 0;     // prompt tokens reused from the slot's cache
    int64_t predicted_n = 0;  // generated tokens (including an EOS that ended it)
    double queue_ms = 0;
    double prompt_ms = 0;     // slot start -> first token sampled
    double predicted_ms = 0;  // first token -> last token
};

struct Event {
    enum class Kind { Delta, Done, Error };
    Kind kind = Kind::Delta;
    std::string text;               // Delta/Done: new text (valid UTF-8)
    std::vector<TokenInfo> tokens;  // Delta: tokens produced (for logprobs)
    std::string finish_reason;      // Done: "stop" or "length"
    TaskStats stats;                // Done
    int error_status = 500;         // Error
    std::string error;              // Error
};

class TaskChannel {
public:
    void push(Event e);
    // Waits up to `timeout` for an event; false when none arrived.
    bool pop(Event& out, std::chrono::milliseconds timeout);
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Event> events_;
    std::atomic<bool> cancelled_{false};
};

struct Task {
    std::vector<int32_t> prompt;  // token ids, BOS included when the model wants it
    int32_t max_tokens = -1;      // -1: until EOS or the context is full
    SamplerParams sampling;
    std::vector<std::string> stop;
    bool logprobs = false;
    int top_logprobs = 0;
    bool cache_prompt = true;
    std::shared_ptr<OutputConstraint> constraint;  // json_object / forced tool call; null: free text
    Clock::time_point arrival = Clock::now();  // request arrival (TTFT, duration)
    Clock::time_point enqueued;                // set by Scheduler::submit (queue wait)
    std::shared_ptr<TaskChannel> channel = std::make_shared<TaskChannel>();
};

}  // namespace hearth::server
