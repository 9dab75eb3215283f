// The server scheduler's context shift over a fake backend that records each sequence's cached
// (position, token) pairs: with context_shift a full slot drops half of the tokens after n_keep and
// keeps generating until max_tokens, its positions stay contiguous, the kept head is the prompt's;
// without it the task finishes with "length" when the context is full.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"
#include "server/scheduler.h"

using namespace hearth;
using namespace hearth::server;
using namespace std::chrono_literals;

namespace {

class ShiftBackend : public DecodeBackend {
public:
    ShiftBackend(int64_t n_ctx, int n_seq) : n_ctx_(n_ctx), cache_(size_t(n_seq)) {}
    int32_t n_vocab() const override { return 32; }
    int64_t n_ctx() const override { return n_ctx_; }
    int n_batch() const override { return 64; }
    void decode(const Batch& b) override {
        std::lock_guard lk(mu);
        rows_.assign(b.size(), std::vector<float>(32, 0.0f));
        for (size_t i = 0; i < b.size(); ++i) {
            auto& c = cache_[size_t(b.seq[i])];
            // Positions must continue a contiguous [0, n) sequence and stay inside the context.
            if (b.pos[i] != int32_t(c.size()) || b.pos[i] >= n_ctx_) ++bad_positions;
            c.emplace_back(b.pos[i], b.tokens[i]);
            if (b.logits[i]) rows_[i][size_t(1 + (c.size() % 31))] = 1.0f;  // next token: 1..31, never EOG (0)
        }
    }
    const float* logits(size_t i) const override { return rows_[i].data(); }
    void kv_remove(int32_t seq, int32_t p0, int32_t p1) override {
        std::lock_guard lk(mu);
        auto& c = cache_[size_t(seq)];
        c.erase(std::remove_if(c.begin(), c.end(), [&](auto& e) { return e.first >= p0 && (p1 < 0 || e.first < p1); }), c.end());
    }
    void kv_shift(int32_t seq, int32_t p0, int32_t p1, int32_t delta) override {
        std::lock_guard lk(mu);
        ++shifts;
        for (auto& e : cache_[size_t(seq)])
            if (e.first >= p0 && (p1 < 0 || e.first < p1)) e.first += delta;
        for (size_t i = 0; i < cache_[size_t(seq)].size(); ++i)
            if (cache_[size_t(seq)][i].first != int32_t(i)) ++bad_positions;
    }
    std::vector<std::pair<int32_t, int32_t>> cache(int seq) {
        std::lock_guard lk(mu);
        return cache_[size_t(seq)];
    }

    std::mutex mu;
    int shifts = 0, bad_positions = 0;

private:
    int64_t n_ctx_;
    std::vector<std::vector<std::pair<int32_t, int32_t>>> cache_;
    std::vector<std::vector<float>> rows_;
};

class Text : public TokenText {
public:
    std::string piece(int32_t t) const override { return std::string(1, char('a' + t % 26)); }
    bool is_eog(int32_t t) const override { return t == 0; }
};

Event finish_of(const std::shared_ptr<TaskChannel>& ch) {
    Event ev;
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline)
        if (ch->pop(ev, 50ms) && ev.kind != Event::Kind::Delta) return ev;
    ADD_FAILURE() << "task did not finish";
    return ev;
}

Event run_task(ShiftBackend& be, SchedulerConfig cfg, std::vector<int32_t> prompt, int max_tokens) {
    Text text;
    Scheduler s(be, text, cfg, nullptr);
    s.start();
    Task t;
    t.prompt = std::move(prompt);
    t.max_tokens = max_tokens;
    t.sampling.temperature = 0;
    auto ch = t.channel;
    s.submit(std::move(t));
    Event ev = finish_of(ch);
    s.stop();
    return ev;
}

TEST(KvShiftScheduler, FullSlotShiftsAndKeepsGenerating) {
    ShiftBackend be(16, 1);
    SchedulerConfig cfg;
    cfg.context_shift = true;
    cfg.n_keep = 2;
    const Event ev = run_task(be, cfg, {5, 6, 7, 8, 9}, 50);
    ASSERT_EQ(ev.kind, Event::Kind::Done) << ev.error;
    EXPECT_EQ(ev.finish_reason, "length");
    EXPECT_EQ(ev.stats.predicted_n, 50);
    EXPECT_GE(be.shifts, 5);
    EXPECT_EQ(be.bad_positions, 0);
    const auto c = be.cache(0);
    ASSERT_GE(c.size(), 2u);
    EXPECT_EQ(c[0].second, 5);  // the kept head is the prompt's first n_keep tokens
    EXPECT_EQ(c[1].second, 6);
    EXPECT_LE(c.size(), 16u);
}

TEST(KvShiftScheduler, KeepWholePromptAndWithoutShiftLengthFinish) {
    ShiftBackend be(16, 1);
    SchedulerConfig cfg;
    cfg.context_shift = true;
    cfg.n_keep = -1;
    const Event ev = run_task(be, cfg, {5, 6, 7, 8, 9, 10}, 30);
    ASSERT_EQ(ev.kind, Event::Kind::Done) << ev.error;
    EXPECT_EQ(ev.stats.predicted_n, 30);
    const auto c = be.cache(0);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(c[size_t(i)].second, 5 + i);

    ShiftBackend plain(16, 1);
    const Event ev2 = run_task(plain, SchedulerConfig{}, {5, 6, 7, 8, 9}, 50);
    ASSERT_EQ(ev2.kind, Event::Kind::Done);
    EXPECT_EQ(ev2.finish_reason, "length");
    EXPECT_LT(ev2.stats.predicted_n, 16);
    EXPECT_EQ(plain.shifts, 0);
}

TEST(KvShiftScheduler, NothingToDropFinishesWithLength) {
    // The whole context is the kept prompt: no shift can make room.
    ShiftBackend be(8, 1);
    SchedulerConfig cfg;
    cfg.context_shift = true;
    cfg.n_keep = -1;
    const Event ev = run_task(be, cfg, {1, 2, 3, 4, 5, 6, 7}, 20);
    ASSERT_EQ(ev.kind, Event::Kind::Done);
    EXPECT_EQ(ev.finish_reason, "length");
    EXPECT_LT(ev.stats.predicted_n, 20);
}

}  // namespace
