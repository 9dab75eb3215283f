// Prometheus text rendering of the server's counters, gauges and histograms (see metrics.h).
#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace hearth::server {

namespace {

std::string num(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

void scalar(std::string& out, const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    out += std::string(name) + " " + num(value) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    ++count_;
    sum_ += v;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cum += counts_[i];
        out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
    }
    cum += counts_.back();
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
    out += name + "_sum " + num(sum_) + "\n";
    out += name + "_count " + std::to_string(count_) + "\n";
}

static std::vector<double> latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

Metrics::Metrics()
    : ttft_(latency_buckets()), itl_(latency_buckets()), queue_wait_(latency_buckets()),
      duration_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void Metrics::on_prompt(int64_t n, double s) {
    std::lock_guard lk(mu_);
    prompt_tokens_ += n;
    prompt_seconds_ += s;
}
void Metrics::on_generated(int64_t n, double s) {
    std::lock_guard lk(mu_);
    predicted_tokens_ += n;
    predicted_seconds_ += s;
}
void Metrics::on_decode(int busy, int64_t n_tokens, double decode_s, double overhead_s) {
    std::lock_guard lk(mu_);
    ++n_decode_;
    n_busy_slots_sum_ += busy;
    decode_tokens_ += n_tokens;
    decode_seconds_ += decode_s;
    overhead_seconds_ += overhead_s;
}
void Metrics::on_ttft(double s) {
    std::lock_guard lk(mu_);
    ttft_.observe(s);
}
void Metrics::on_inter_token(double s) {
    std::lock_guard lk(mu_);
    itl_.observe(s);
}
void Metrics::on_queue_wait(double s) {
    std::lock_guard lk(mu_);
    queue_wait_.observe(s);
}
void Metrics::on_request_done(double s) {
    std::lock_guard lk(mu_);
    duration_.observe(s);
}
void Metrics::on_rejected() {
    std::lock_guard lk(mu_);
    ++rejected_;
}

std::string Metrics::render(const MetricsGauges& g) const {
    std::lock_guard lk(mu_);
    std::string out;
    scalar(out, "llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.", double(prompt_tokens_));
    scalar(out, "llamacpp:prompt_seconds_total", "counter", "Prompt process time.", prompt_seconds_);
    scalar(out, "llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.",
           double(predicted_tokens_));
    scalar(out, "llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time.", predicted_seconds_);
    scalar(out, "llamacpp:n_decode_total", "counter", "Total number of decode() calls.", double(n_decode_));
    scalar(out, "llamacpp:n_busy_slots_per_decode", "gauge", "Average number of busy slots per decode() call.",
           n_decode_ ? double(n_busy_slots_sum_) / double(n_decode_) : 0.0);
    scalar(out, "hearth:decode_tokens_total", "counter", "Tokens in decode() batches (prompt and generated).",
           double(decode_tokens_));
    scalar(out, "hearth:decode_seconds_total", "counter", "Time inside decode() calls.", decode_seconds_);
    scalar(out, "hearth:scheduler_overhead_seconds_total", "counter",
           "Scheduler time around decode() calls: batch building, sampling, streaming events.", overhead_seconds_);
    scalar(out, "llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.",
           prompt_seconds_ > 0 ? double(prompt_tokens_) / prompt_seconds_ : 0.0);
    scalar(out, "llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
           predicted_seconds_ > 0 ? double(predicted_tokens_) / predicted_seconds_ : 0.0);
    scalar(out, "llamacpp:kv_cache_usage_ratio", "gauge", "KV-cache usage. 1 means 100 percent usage.",
           g.kv_cache_usage_ratio);
    scalar(out, "llamacpp:kv_cache_tokens", "gauge", "KV-cache tokens.", double(g.kv_cache_tokens));
    scalar(out, "llamacpp:requests_processing", "gauge", "Number of requests processing.", g.requests_processing);
    scalar(out, "llamacpp:requests_deferred", "gauge", "Number of requests deferred.", g.requests_deferred);
    scalar(out, "hearth:requests_rejected_total", "counter", "Requests refused with 429 because the queue was full.",
           double(rejected_));
    ttft_.render(out, "hearth:time_to_first_token_seconds", "Time from request arrival to its first generated token.");
    itl_.render(out, "hearth:inter_token_latency_seconds", "Time between consecutive generated tokens of a request.");
    queue_wait_.render(out, "hearth:queue_wait_seconds", "Time a request waited in the queue for a slot.");
    duration_.render(out, "hearth:request_duration_seconds", "Time from request arrival to its last token.");
    return out;
}

}  // namespace hearth::server
