// Slot scheduler implementation: queue -> slot assignment with prefix reuse, continuous batching
// with chunked prompts, sampling and event streaming, cancellation and shutdown (see scheduler.h).
#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.h"
#include "runtime/kv_shift.h"
#include "server/api_error.h"

namespace hearth::server {

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = std::min(a.size(), b.size()), i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

int status_for(const Error& e) {
    switch (e.kind()) {
        case ErrorKind::InvalidArgument: return 400;
        case ErrorKind::OutOfMemory: return 503;
        case ErrorKind::Cancelled: return 499;
        default: return 500;
    }
}

}  // namespace

void DecodeBackend::kv_shift(int32_t, int32_t, int32_t, int32_t) {
    throw Error(ErrorKind::Unsupported, "this decoding backend cannot shift its KV cache (context shift)");
}

Scheduler::Scheduler(DecodeBackend& backend, const TokenText& text, SchedulerConfig config, Metrics* metrics)
    : backend_(backend), text_(text), cfg_(config), metrics_(metrics) {
    HEARTH_ASSERT(cfg_.n_slots >= 1);
    slots_.resize(cfg_.n_slots);
    for (int i = 0; i < cfg_.n_slots; ++i) slots_[i].id = i;
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
    std::lock_guard lk(mu_);
    if (running_) return;
    running_ = true;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
    {
        std::lock_guard lk(mu_);
        if (!running_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(mu_);
    running_ = false;
}

void Scheduler::submit(Task task) {
    {
        std::lock_guard lk(mu_);
        if (stopping_ || !running_) throw ApiError(503, "the server is shutting down");
        if (queue_.size() >= cfg_.max_queue) {
            if (metrics_) metrics_->on_rejected();
            throw ApiError(429, "the request queue is full (" + std::to_string(cfg_.max_queue) +
                                    " requests waiting); retry later");
        }
        task.enqueued = Clock::now();
        queue_.push_back(std::move(task));
    }
    cv_.notify_all();
}

void Scheduler::cancel_all() {
    {
        std::lock_guard lk(mu_);
        cancel_all_ = true;
    }
    cv_.notify_all();
}

std::vector<SlotInfo> Scheduler::slots() const {
    std::lock_guard lk(mu_);
    std::vector<SlotInfo> out;
    for (const Slot& s : slots_) {
        SlotInfo info;
        info.id = s.id;
        info.processing = s.task.has_value();
        info.n_prompt = s.task ? int64_t(s.task->prompt.size()) : 0;
        info.n_past = int64_t(s.cache.size());
        info.n_decoded = s.stats.predicted_n;
        info.n_cached = s.stats.cached_n;
        info.n_shifts = s.n_shifts;
        out.push_back(info);
    }
    return out;
}

MetricsGauges Scheduler::gauges() const {
    std::lock_guard lk(mu_);
    MetricsGauges g;
    g.requests_deferred = int(queue_.size());
    for (const Slot& s : slots_) {
        g.requests_processing += s.task ? 1 : 0;
        g.kv_cache_tokens += int64_t(s.cache.size());
    }
    double cap = double(backend_.n_ctx()) * double(slots_.size());
    g.kv_cache_usage_ratio = cap > 0 ? double(g.kv_cache_tokens) / cap : 0.0;
    return g;
}

size_t Scheduler::queued() const {
    std::lock_guard lk(mu_);
    return queue_.size();
}

size_t Scheduler::in_flight() const {
    std::lock_guard lk(mu_);
    size_t n = queue_.size();
    for (const Slot& s : slots_) n += s.task ? 1 : 0;
    return n;
}

void Scheduler::loop() {
    Batch batch;
    std::vector<Slot*> owner;  // owner[i]: the slot of batch token i
    std::unique_lock lk(mu_);
    while (!stopping_) {
        const Clock::time_point t_step = Clock::now();
        // Client-cancelled (or drain-timeout) tasks free their slot now; the KV they filled stays
        // as reusable cache.
        for (Slot& s : slots_) {
            if (!s.task) continue;
            if (cancel_all_) finish(s, "stop");
            else if (s.task->channel->cancelled()) release(s);
        }
        if (cancel_all_) {
            for (Task& t : queue_) t.channel->push({Event::Kind::Error, {}, {}, {}, {}, 503, "the server is shutting down"});
            queue_.clear();
            cancel_all_ = false;
        }
        assign_queued();
        build_batch(batch, owner);
        if (batch.size() == 0) {
            cv_.wait_for(lk, std::chrono::milliseconds(50));
            continue;
        }
        int busy = 0;
        for (const Slot& s : slots_) busy += s.task ? 1 : 0;
        lk.unlock();
        std::optional<Error> err;
        const Clock::time_point t_decode = Clock::now();
        try {
            backend_.decode(batch);
        } catch (const Error& e) {
            err = e;
        }
        const Clock::time_point t_decoded = Clock::now();
        lk.lock();
        if (err) {
            if (metrics_) metrics_->on_decode(busy, int64_t(batch.size()), ms_between(t_decode, t_decoded) / 1000.0, 0.0);
            // Undo whatever part of the batch reached the cache, then fail its tasks.
            for (size_t i = 0; i < owner.size(); ++i) {
                Slot& s = *owner[i];
                if (!s.task) continue;
                backend_.kv_remove(s.id, int32_t(s.cache.size()), -1);
                fail(s, status_for(*err), std::string("decode failed: ") + err->what());
            }
            continue;
        }
        after_decode(batch, owner);
        if (metrics_)
            metrics_->on_decode(busy, int64_t(batch.size()), ms_between(t_decode, t_decoded) / 1000.0,
                                (ms_between(t_step, t_decode) + ms_between(t_decoded, Clock::now())) / 1000.0);
    }
    for (Slot& s : slots_)
        if (s.task) fail(s, 503, "the server is shutting down");
    for (Task& t : queue_) t.channel->push({Event::Kind::Error, {}, {}, {}, {}, 503, "the server is shutting down"});
    queue_.clear();
}

void Scheduler::assign_queued() {
    while (!queue_.empty()) {
        if (queue_.front().channel->cancelled()) {  // client left while queued: never starts
            queue_.pop_front();
            continue;
        }
        Slot* best = nullptr;
        size_t best_prefix = 0;
        for (Slot& s : slots_) {
            if (s.task) continue;
            size_t p = queue_.front().cache_prompt ? common_prefix(s.cache, queue_.front().prompt) : 0;
            if (!best || p > best_prefix || (p == best_prefix && s.last_used < best->last_used)) {
                best = &s;
                best_prefix = p;
            }
        }
        if (!best) return;
        Task t = std::move(queue_.front());
        queue_.pop_front();
        start_task(*best, std::move(t));
    }
}

void Scheduler::start_task(Slot& slot, Task task) {
    HEARTH_ASSERT(!task.prompt.empty());
    Clock::time_point now = Clock::now();
    slot.stats = TaskStats{};
    slot.stats.slot = slot.id;
    slot.stats.queue_ms = ms_between(task.enqueued, now);
    if (metrics_) metrics_->on_queue_wait(slot.stats.queue_ms / 1000.0);

    size_t keep = task.cache_prompt ? common_prefix(slot.cache, task.prompt) : 0;
    if (keep >= task.prompt.size()) keep = task.prompt.size() - 1;  // one token must be evaluated for logits
    if (keep < slot.cache.size()) {
        backend_.kv_remove(slot.id, int32_t(keep), -1);
        slot.cache.resize(keep);
    }
    slot.n_prompt_done = keep;
    slot.stats.cached_n = int64_t(keep);
    slot.n_shifts = 0;
    slot.pending_token = -1;
    slot.sampler = std::make_unique<Sampler>(task.sampling, backend_.n_vocab());
    size_t window = task.sampling.penalty_last_n < 0 ? task.prompt.size() : size_t(task.sampling.penalty_last_n);
    size_t from = task.prompt.size() > window ? task.prompt.size() - window : 0;
    for (size_t i = from; i < task.prompt.size(); ++i) slot.sampler->accept(task.prompt[i]);
    slot.text = std::make_unique<TextStream>(task.stop);
    slot.t_start = now;
    slot.task = std::move(task);
}

void Scheduler::build_batch(Batch& batch, std::vector<Slot*>& owner) {
    batch.clear();
    owner.clear();
    int budget = backend_.n_batch();
    for (Slot& s : slots_) {
        if (!s.task || !s.generating() || budget <= 0) continue;
        batch.add(s.pending_token, int32_t(s.cache.size()), s.id, true);
        owner.push_back(&s);
        --budget;
    }
    int prompt_budget = owner.empty() ? budget : std::min(budget, cfg_.prompt_chunk);
    const size_t n = slots_.size();
    for (size_t k = 0; k < n && prompt_budget > 0; ++k) {
        Slot& s = slots_[(prompt_rr_ + k) % n];
        if (!s.task || s.generating()) continue;
        const auto& prompt = s.task->prompt;
        size_t remaining = prompt.size() - s.n_prompt_done;
        if (remaining == 0) continue;
        size_t take = std::min(remaining, size_t(prompt_budget));
        for (size_t i = 0; i < take; ++i) {
            size_t p = s.n_prompt_done + i;
            batch.add(prompt[p], int32_t(p), s.id, p + 1 == prompt.size());
            owner.push_back(&s);
        }
        prompt_budget -= int(take);
    }
    prompt_rr_ = (prompt_rr_ + 1) % n;  // rotate who gets the prompt budget first
}

void Scheduler::after_decode(const Batch& batch, const std::vector<Slot*>& owner) {
    for (size_t i = 0; i < batch.size(); ++i) {
        Slot& s = *owner[i];
        if (!s.task) continue;
        s.cache.push_back(batch.tokens[i]);
        if (!s.generating()) ++s.n_prompt_done;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
        if (!batch.logits[i]) continue;
        Slot& s = *owner[i];
        if (!s.task) continue;
        sample_slot(s, backend_.logits(i));
    }
}

void Scheduler::sample_slot(Slot& slot, const float* logits) {
    Task& task = *slot.task;
    Clock::time_point now = Clock::now();
    const bool first = slot.stats.predicted_n == 0;
    if (first) {
        slot.t_first = now;
        slot.stats.prompt_n = int64_t(task.prompt.size()) - slot.stats.cached_n;
        slot.stats.prompt_ms = ms_between(slot.t_start, now);
        if (metrics_) metrics_->on_prompt(slot.stats.prompt_n, slot.stats.prompt_ms / 1000.0);
    }
    if (task.max_tokens == 0) {
        slot.t_last = now;
        finish(slot, "length");
        return;
    }
    const float* sample_from = logits;
    if (task.constraint) {
        const int32_t n_vocab = backend_.n_vocab();
        if (pieces_.empty()) {
            pieces_.resize(n_vocab);
            eog_.resize(n_vocab);
            for (int32_t v = 0; v < n_vocab; ++v) {
                pieces_[v] = text_.piece(v);
                eog_[v] = text_.is_eog(v) ? 1 : 0;
            }
        }
        // With max_tokens, a token is allowed only if the output can still be completed with the
        // tokens left after it, so constrained output ends as complete JSON whenever it fits.
        const bool budgeted = task.max_tokens > 0;
        const size_t left = budgeted ? size_t(task.max_tokens - slot.stats.predicted_n - 1) : 0;
        OutputConstraint& c = *task.constraint;
        bool any = mask_tokens(logits, [&](int32_t v) {
            return budgeted ? c.accepts_within(pieces_[v], left) : c.accepts(pieces_[v]);
        });
        if (!any && budgeted)  // max_tokens too small for any complete output: a valid prefix then
            any = mask_tokens(logits, [&](int32_t v) { return c.accepts(pieces_[v]); });
        if (!any) {  // nothing can continue the constrained output
            slot.t_last = now;
            finish(slot, "stop");
            return;
        }
        sample_from = masked_.data();
    }
    const int32_t tok = slot.sampler->sample(sample_from);
    slot.sampler->accept(tok);
    if (metrics_) {
        if (first) metrics_->on_ttft(ms_between(task.arrival, now) / 1000.0);
        else metrics_->on_inter_token(ms_between(slot.t_last, now) / 1000.0);
    }
    slot.t_last = now;
    ++slot.stats.predicted_n;
    slot.pending_token = -1;

    if (text_.is_eog(tok)) {
        finish(slot, "stop");
        return;
    }
    Event ev;
    const std::string piece = text_.piece(tok);
    ev.text = slot.text->push(piece);
    if (task.logprobs) {
        TokenInfo info;
        info.id = tok;
        info.piece = piece;
        info.logprob = token_logprob(logits, backend_.n_vocab(), tok);
        if (task.top_logprobs > 0) info.top = top_logprobs(logits, backend_.n_vocab(), task.top_logprobs);
        ev.tokens.push_back(std::move(info));
    }
    if (!ev.text.empty() || !ev.tokens.empty()) task.channel->push(std::move(ev));
    if (task.constraint) task.constraint->advance(piece);
    if (slot.text->stopped() || (task.constraint && task.constraint->done())) {
        finish(slot, "stop");
    } else if (task.max_tokens > 0 && slot.stats.predicted_n >= task.max_tokens) {
        finish(slot, "length");
    } else if (int64_t(slot.cache.size()) >= backend_.n_ctx() && !(cfg_.context_shift && shift_slot(slot))) {
        if (slot.task) finish(slot, "length");  // no position left for the next token
    } else if (slot.task) {
        slot.pending_token = tok;
    }
}

bool Scheduler::shift_slot(Slot& slot) {
    const int32_t n_past = int32_t(slot.cache.size());
    int32_t n_keep = cfg_.n_keep < 0 ? int32_t(slot.task->prompt.size()) : cfg_.n_keep;
    n_keep = std::min(n_keep, n_past);
    const int32_t discard = context_shift_discard(n_past, n_keep);
    if (discard <= 0) return false;
    try {
        backend_.kv_remove(slot.id, n_keep, n_keep + discard);
        backend_.kv_shift(slot.id, n_keep + discard, n_past, -discard);
    } catch (const Error& e) {
        // The slot's cache no longer matches its token list: drop it all.
        backend_.kv_remove(slot.id, 0, -1);
        slot.cache.clear();
        fail(slot, status_for(e), std::string("context shift failed: ") + e.what());
        return true;  // the task is gone (fail released it)
    }
    slot.cache.erase(slot.cache.begin() + n_keep, slot.cache.begin() + n_keep + discard);
    ++slot.n_shifts;
    return true;
}

bool Scheduler::mask_tokens(const float* logits, const std::function<bool(int32_t)>& allowed) {
    // Checking every piece of a 262k vocabulary costs tens of ms per token, so only the most likely
    // candidates are checked: the best kCheck by logit until kKeep pass (the rest of the
    // distribution is negligible after softmax); a full scan only when none of them pass.
    constexpr size_t kCheck = 4096, kKeep = 256;
    const int32_t n_vocab = backend_.n_vocab();
    masked_.assign(size_t(n_vocab), -INFINITY);
    order_.resize(size_t(n_vocab));
    for (int32_t v = 0; v < n_vocab; ++v) order_[v] = v;
    const size_t m = std::min(kCheck, order_.size());
    auto by_logit = [logits](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    if (m < order_.size()) std::nth_element(order_.begin(), order_.begin() + m, order_.end(), by_logit);
    std::sort(order_.begin(), order_.begin() + m, by_logit);
    size_t kept = 0;
    for (size_t i = 0; i < m && kept < kKeep; ++i) {
        const int32_t v = order_[i];
        if (eog_[v] || !allowed(v)) continue;
        masked_[v] = logits[v];
        ++kept;
    }
    for (size_t i = m; i < order_.size() && kept == 0; ++i) {
        const int32_t v = order_[i];
        if (eog_[v] || !allowed(v)) continue;
        masked_[v] = logits[v];
        ++kept;
    }
    return kept > 0;
}

void Scheduler::finish(Slot& slot, const std::string& reason) {
    Task& task = *slot.task;
    Clock::time_point now = Clock::now();
    if (slot.stats.predicted_n > 0) slot.stats.predicted_ms = ms_between(slot.t_first, slot.t_last);
    if (metrics_) {
        if (slot.stats.predicted_n > 0) metrics_->on_generated(slot.stats.predicted_n, slot.stats.predicted_ms / 1000.0);
        metrics_->on_request_done(ms_between(task.arrival, now) / 1000.0);
    }
    Event ev;
    ev.kind = Event::Kind::Done;
    ev.text = slot.text ? slot.text->flush() : std::string();
    ev.finish_reason = reason;
    ev.stats = slot.stats;
    task.channel->push(std::move(ev));
    release(slot);
}

void Scheduler::fail(Slot& slot, int status, const std::string& message) {
    Event ev;
    ev.kind = Event::Kind::Error;
    ev.error_status = status;
    ev.error = message;
    slot.task->channel->push(std::move(ev));
    release(slot);
}

void Scheduler::release(Slot& slot) {
    slot.task.reset();
    slot.sampler.reset();
    slot.text.reset();
    slot.pending_token = -1;
    slot.last_used = ++use_counter_;
}

}  // namespace hearth::server
