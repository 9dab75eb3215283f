// Unit tests of the server's slot scheduler over a fake, deterministic decoding backend: batched
// outputs equal solo outputs, prefix reuse, chunked prompts interleaved with generation,
// cancellation (running and queued), bounded queue (429), stop/EOG/length endings, decode errors.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "core/error.h"
#include "server/api_error.h"
#include "server/scheduler.h"

using namespace hearth;
using namespace hearth::server;
using namespace std::chrono_literals;

namespace {

// Logits depend only on the sequence's token history, so any batching must give the same result.
class FakeBackend : public DecodeBackend {
public:
    explicit FakeBackend(int64_t n_ctx = 256, int n_batch = 64, int n_seq = 8)
        : n_ctx_(n_ctx), n_batch_(n_batch), hist_(n_seq) {}
    int32_t n_vocab() const override { return kVocab; }
    int64_t n_ctx() const override { return n_ctx_; }
    int n_batch() const override { return n_batch_; }
    void decode(const Batch& b) override {
        if (delay.count()) std::this_thread::sleep_for(delay);
        if (fail_next.exchange(false)) throw Error(ErrorKind::OutOfMemory, "KV cache full (n_ctx 256)");
        HEARTH_ASSERT(int(b.size()) <= n_batch_);
        std::lock_guard lk(mu);
        logits_.assign(b.size(), std::vector<float>());
        std::set<int32_t> seqs;
        for (size_t i = 0; i < b.size(); ++i) {
            auto& h = hist_[b.seq[i]];
            HEARTH_ASSERT(b.pos[i] == int32_t(h.size()));  // positions must continue the sequence
            h.push_back(b.tokens[i]);
            seen.insert(b.tokens[i]);
            seqs.insert(b.seq[i]);
            if (b.logits[i]) logits_[i] = compute(h);
        }
        batch_sizes.push_back(b.size());
        batch_seqs.push_back(seqs.size());
    }
    const float* logits(size_t i) const override { return logits_[i].data(); }
    void kv_remove(int32_t seq, int32_t p0, int32_t p1) override {
        std::lock_guard lk(mu);
        HEARTH_ASSERT(p1 == -1);
        if (size_t(p0) < hist_[seq].size()) hist_[seq].resize(p0);
    }

    static constexpr int32_t kVocab = 40;
    static constexpr int32_t kEog = 0;
    std::chrono::milliseconds delay{0};
    std::atomic<bool> fail_next{false};
    bool allow_eog = false;
    std::mutex mu;
    std::set<int32_t> seen;
    std::vector<size_t> batch_sizes, batch_seqs;

private:
    std::vector<float> compute(const std::vector<int32_t>& h) const {
        uint64_t x = 1469598103934665603ull;
        for (int32_t t : h) x = (x ^ uint64_t(t)) * 1099511628211ull;
        std::vector<float> l(kVocab);
        for (int v = 0; v < kVocab; ++v) {
            uint64_t y = (x ^ uint64_t(v * 7919)) * 0x9E3779B97F4A7C15ull;
            l[v] = float((y >> 40) % 1000) / 100.0f;
        }
        if (!allow_eog) l[kEog] = -1e9f;
        return l;
    }
    int64_t n_ctx_;
    int n_batch_;
    std::vector<std::vector<int32_t>> hist_;
    std::vector<std::vector<float>> logits_;
};

class FakeText : public TokenText {
public:
    std::string piece(int32_t t) const override { return "<" + std::to_string(t) + ">"; }
    bool is_eog(int32_t t) const override { return t == FakeBackend::kEog; }
};

struct Result {
    std::string text;
    std::string finish;
    TaskStats stats;
    int error_status = 0;
    int n_deltas = 0;
};

Result collect(const std::shared_ptr<TaskChannel>& ch, std::chrono::milliseconds limit = 10s) {
    Result r;
    auto deadline = Clock::now() + limit;
    Event ev;
    while (Clock::now() < deadline) {
        if (!ch->pop(ev, 50ms)) continue;
        r.text += ev.text;
        if (ev.kind == Event::Kind::Delta) ++r.n_deltas;
        if (ev.kind == Event::Kind::Done) {
            r.finish = ev.finish_reason;
            r.stats = ev.stats;
            return r;
        }
        if (ev.kind == Event::Kind::Error) {
            r.error_status = ev.error_status;
            return r;
        }
    }
    ADD_FAILURE() << "task did not finish in time";
    return r;
}

Task make_task(std::vector<int32_t> prompt, int max_tokens) {
    Task t;
    t.prompt = std::move(prompt);
    t.max_tokens = max_tokens;
    t.sampling.temperature = 0;
    return t;
}

std::vector<int32_t> prompt_of(int seed, int n) {
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i) p.push_back(1 + (seed * 13 + i * 7) % 30);
    return p;
}

bool wait_idle(Scheduler& s, std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        bool busy = false;
        for (const auto& si : s.slots()) busy |= si.processing;
        if (!busy && s.queued() == 0) return true;
        std::this_thread::sleep_for(2ms);
    }
    return false;
}

}  // namespace

TEST(ServerScheduler, ConcurrentOutputsEqualSoloOutputs) {
    FakeText text;
    std::vector<std::string> solo;
    {
        FakeBackend be;
        Scheduler s(be, text, {1, 64, 512}, nullptr);
        s.start();
        for (int i = 0; i < 6; ++i) {
            Task t = make_task(prompt_of(i, 5 + i), 12);
            auto ch = t.channel;
            s.submit(std::move(t));
            Result r = collect(ch);
            EXPECT_EQ(r.finish, "length");
            EXPECT_EQ(r.stats.predicted_n, 12);
            solo.push_back(r.text);
        }
    }
    FakeBackend be;
    Metrics metrics;
    Scheduler s(be, text, {4, 64, 512}, &metrics);
    s.start();
    std::vector<std::shared_ptr<TaskChannel>> chans;
    for (int i = 0; i < 6; ++i) {
        Task t = make_task(prompt_of(i, 5 + i), 12);
        chans.push_back(t.channel);
        s.submit(std::move(t));
    }
    for (int i = 0; i < 6; ++i) EXPECT_EQ(collect(chans[i]).text, solo[i]) << i;
    size_t max_seqs = 0;
    for (size_t n : be.batch_seqs) max_seqs = std::max(max_seqs, n);
    EXPECT_GE(max_seqs, 2u);  // sequences really were decoded together
    EXPECT_NE(metrics.render(s.gauges()).find("llamacpp:tokens_predicted_total 72\n"), std::string::npos);
}

TEST(ServerScheduler, PrefixIsReusedAndReported) {
    FakeText text;
    std::vector<int32_t> base = prompt_of(3, 20), longer = base;
    longer.insert(longer.end(), {5, 6, 7});
    std::string fresh;
    {
        FakeBackend be;
        Scheduler s(be, text, {2, 64, 512}, nullptr);
        s.start();
        Task t = make_task(longer, 8);
        auto ch = t.channel;
        s.submit(std::move(t));
        fresh = collect(ch).text;
    }
    FakeBackend be;
    Scheduler s(be, text, {2, 64, 512}, nullptr);
    s.start();
    Task a = make_task(base, 4);
    auto ca = a.channel;
    s.submit(std::move(a));
    EXPECT_EQ(collect(ca).stats.cached_n, 0);
    Task b = make_task(longer, 8);
    auto cb = b.channel;
    s.submit(std::move(b));
    Result rb = collect(cb);
    EXPECT_EQ(rb.stats.cached_n, 20);
    EXPECT_EQ(rb.stats.prompt_n, 3);
    EXPECT_EQ(rb.text, fresh);
    // The identical prompt again: everything but the last token is reused.
    Task c = make_task(longer, 8);
    auto cc = c.channel;
    s.submit(std::move(c));
    Result rc = collect(cc);
    EXPECT_EQ(rc.stats.cached_n, 22);
    EXPECT_EQ(rc.text, fresh);
}

TEST(ServerScheduler, LongPromptIsChunkedAndInterleaved) {
    FakeText text;
    FakeBackend be(512, 64);
    be.delay = 1ms;  // A's 60 steps outlast B's 10 prompt chunks
    Scheduler s(be, text, {2, 64, 4}, nullptr);
    s.start();
    Task a = make_task(prompt_of(1, 3), 60);
    auto ca = a.channel;
    s.submit(std::move(a));
    Event ev;
    ASSERT_TRUE(ca->pop(ev, 5s));  // A is generating
    Task b = make_task(prompt_of(2, 40), 2);
    auto cb = b.channel;
    s.submit(std::move(b));
    Result rb = collect(cb);
    Result ra = collect(ca);
    EXPECT_EQ(ra.finish, "length");
    EXPECT_EQ(rb.stats.prompt_n, 40);
    size_t mixed = 0;
    for (size_t i = 0; i < be.batch_sizes.size(); ++i) {
        EXPECT_LE(be.batch_sizes[i], 5u);  // one generation token + a 4-token prompt chunk
        if (be.batch_seqs[i] == 2) ++mixed;
    }
    EXPECT_GE(mixed, 10u);  // B's 40 prompt tokens rode along A's generation steps
}

TEST(ServerScheduler, CancelFreesSlotQuicklyAndQueuedNeverStarts) {
    FakeText text;
    FakeBackend be(100000, 64);
    be.delay = 2ms;
    Scheduler s(be, text, {1, 64, 512}, nullptr);
    s.start();
    Task a = make_task(prompt_of(1, 4), -1);
    auto ca = a.channel;
    s.submit(std::move(a));
    Event ev;
    ASSERT_TRUE(ca->pop(ev, 5s));
    Task b = make_task({39, 39, 39}, 5);  // token 39 never appears elsewhere
    b.sampling.logit_bias = {{39, -INFINITY}};
    auto cb = b.channel;
    s.submit(std::move(b));
    EXPECT_EQ(s.queued(), 1u);
    cb->cancel();
    auto t0 = Clock::now();
    ca->cancel();
    EXPECT_TRUE(wait_idle(s, 500ms));
    EXPECT_LT(Clock::now() - t0, 500ms);
    std::lock_guard lk(be.mu);
    EXPECT_EQ(be.seen.count(39), 0u);
}

TEST(ServerScheduler, BoundedQueueRefusesWith429) {
    FakeText text;
    FakeBackend be(100000, 64);
    be.delay = 2ms;
    Scheduler s(be, text, {1, 2, 512}, nullptr);
    s.start();
    Task a = make_task(prompt_of(1, 4), -1);
    auto ca = a.channel;
    s.submit(std::move(a));
    Event ev;
    ASSERT_TRUE(ca->pop(ev, 5s));
    s.submit(make_task(prompt_of(2, 4), 1));
    s.submit(make_task(prompt_of(3, 4), 1));
    try {
        s.submit(make_task(prompt_of(4, 4), 1));
        FAIL() << "expected 429";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 429);
    }
    s.cancel_all();
    Result r = collect(ca);
    EXPECT_EQ(r.finish, "stop");
    EXPECT_TRUE(wait_idle(s, 1s));
}

TEST(ServerScheduler, StopStringsEogContextAndErrors) {
    FakeText text;
    FakeBackend be(40, 64);
    Scheduler s(be, text, {1, 64, 512}, nullptr);
    s.start();
    // Learn the first generated piece, then use it as a stop string.
    Task probe = make_task(prompt_of(5, 4), 3);
    auto cp = probe.channel;
    s.submit(std::move(probe));
    std::string probe_text = collect(cp).text;
    std::string second = probe_text.substr(probe_text.find('>') + 1);
    second = second.substr(0, second.find('>') + 1);
    Task st = make_task(prompt_of(5, 4), 10);
    st.stop = {second};
    auto cs = st.channel;
    s.submit(std::move(st));
    Result rs = collect(cs);
    EXPECT_EQ(rs.finish, "stop");
    EXPECT_EQ(rs.text, probe_text.substr(0, probe_text.find('>') + 1));
    // Unlimited generation ends at the context size.
    Task full = make_task(prompt_of(6, 10), -1);
    auto cf = full.channel;
    s.submit(std::move(full));
    Result rf = collect(cf);
    EXPECT_EQ(rf.finish, "length");
    EXPECT_EQ(rf.stats.predicted_n, 31);  // 30 decoded positions + the token sampled at the last one
    // A decode error reaches the client as an Error event and frees the slot.
    be.fail_next = true;
    Task e = make_task(prompt_of(7, 4), 5);
    e.cache_prompt = false;
    auto ce = e.channel;
    s.submit(std::move(e));
    EXPECT_EQ(collect(ce).error_status, 503);
    EXPECT_TRUE(wait_idle(s, 1s));
    // max_tokens 0: prompt only.
    Task z = make_task(prompt_of(8, 4), 0);
    auto cz = z.channel;
    s.submit(std::move(z));
    Result rz = collect(cz);
    EXPECT_EQ(rz.finish, "length");
    EXPECT_EQ(rz.stats.predicted_n, 0);
}

TEST(ServerScheduler, EogEndsWithStop) {
    FakeText text;
    FakeBackend be;
    be.allow_eog = true;
    Scheduler s(be, text, {1, 64, 512}, nullptr);
    s.start();
    Task t = make_task(prompt_of(9, 4), 200);
    t.sampling.logit_bias = {{FakeBackend::kEog, 100.0f}};
    auto ch = t.channel;
    s.submit(std::move(t));
    Result r = collect(ch);
    EXPECT_EQ(r.finish, "stop");
    EXPECT_EQ(r.text, "");
    EXPECT_EQ(r.stats.predicted_n, 1);
}
