// Server metrics: llama-server's counters and gauges (same names, `llamacpp:` prefix, so existing
// dashboards work) plus latency histograms (`hearth:` prefix), rendered as Prometheus text format.
// All updates are thread-safe; the scheduler and HTTP threads record, /metrics renders.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::server {

// Cumulative-bucket histogram (Prometheus semantics: bucket le=B counts observations <= B).
class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
    // Appends # HELP/# TYPE and the _bucket/_sum/_count lines.
    void render(std::string& out, const std::string& name, const std::string& help) const;
    uint64_t count() const { return count_; }
    double sum() const { return sum_; }

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket, non-cumulative; last = +Inf
    uint64_t count_ = 0;
    double sum_ = 0;
};

// Instantaneous values the renderer asks the scheduler for.
struct MetricsGauges {
    int requests_processing = 0;
    int requests_deferred = 0;  // waiting in the queue
    int64_t kv_cache_tokens = 0;
    double kv_cache_usage_ratio = 0;
};

class Metrics {
public:
    Metrics();

    void on_prompt(int64_t n_tokens, double seconds);       // prompt tokens evaluated (not cached)
    void on_generated(int64_t n_tokens, double seconds);    // tokens predicted, generation time
    // One decode() call: busy slots, tokens in its batch, seconds inside decode(), and seconds the
    // scheduler spent around it (batch building, sampling, handing events to the HTTP threads).
    void on_decode(int busy_slots, int64_t n_tokens = 0, double decode_seconds = 0, double overhead_seconds = 0);
    void on_ttft(double seconds);
    void on_inter_token(double seconds);
    void on_queue_wait(double seconds);
    void on_request_done(double seconds);
    void on_rejected();                                     // 429 (queue full)

    std::string render(const MetricsGauges& gauges) const;

private:
    mutable std::mutex mu_;
    int64_t prompt_tokens_ = 0;
    double prompt_seconds_ = 0;
    int64_t predicted_tokens_ = 0;
    double predicted_seconds_ = 0;
    int64_t n_decode_ = 0;
    int64_t n_busy_slots_sum_ = 0;
    int64_t decode_tokens_ = 0;
    double decode_seconds_ = 0;
    double overhead_seconds_ = 0;
    int64_t rejected_ = 0;
    Histogram ttft_, itl_, queue_wait_, duration_;
};

}  // namespace hearth::server
