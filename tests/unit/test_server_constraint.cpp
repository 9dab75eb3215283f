// Unit tests of constrained output: the JSON prefix automaton (accepts exactly JSON-value
// prefixes), the forced tool-call constraint, and the scheduler producing only valid JSON objects
// under a json_object constraint over a fake backend whose tokens are JSON fragments.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/json_constraint.h"
#include "server/scheduler.h"

using namespace hearth;
using namespace hearth::server;
using namespace std::chrono_literals;

namespace {

bool valid_prefix(const std::string& s, bool* complete = nullptr) {
    JsonPrefix p(true);
    for (char c : s)
        if (!p.feed(c)) return false;
    if (complete) *complete = p.complete();
    return true;
}

}  // namespace

TEST(ServerConstraint, JsonPrefixAcceptsValidDocuments) {
    for (const char* doc : {R"({})", R"({"a":1})", R"( {"a": [1, -2.5e+3, true, false, null, "x\"\u00e9"], "b": {}} )",
                            R"({"k":[[],[{}],0,0.0,1E5]})", "{\"s\":\"\xc3\xa9\"}"}) {
        bool complete = false;
        std::string d(doc);
        while (!d.empty() && d.back() == ' ') d.pop_back();
        while (!d.empty() && d.front() == ' ') d.erase(d.begin());
        EXPECT_TRUE(valid_prefix(d, &complete)) << doc;
        EXPECT_TRUE(complete) << doc;
    }
    bool complete = true;
    EXPECT_TRUE(valid_prefix(R"({"a": [1, tr)", &complete));
    EXPECT_FALSE(complete);
}

TEST(ServerConstraint, JsonPrefixRejectsInvalidBytes) {
    EXPECT_FALSE(valid_prefix(" {}"));                          // no leading whitespace
    EXPECT_FALSE(valid_prefix("{" + std::string(65, ' ') + "}"));  // no endless padding
    EXPECT_TRUE(valid_prefix("{" + std::string(64, ' ') + "}"));
    for (const char* bad : {"[1]", "\"x\"", "{a", R"({"a" 1)", R"({"a":01)", R"({"a":1.})", R"({"a":-})",
                            R"({"a":tru })", R"({"a":1,})", R"({"a":"\x"})", R"({"a":[1}])", R"({} x)", "{\"a\":\"\x01\"}",
                            R"({"a":"\u12G4"})"}) {
        EXPECT_FALSE(valid_prefix(bad)) << bad;
    }
}

TEST(ServerConstraint, ForcedToolCall) {
    auto c = OutputConstraint::tool_call({"get_weather", "get_time"});
    EXPECT_TRUE(c->accepts("{\"name\": \"get_"));
    EXPECT_FALSE(c->accepts("{\"name\": \"rm"));
    EXPECT_FALSE(c->accepts("hello"));
    EXPECT_FALSE(c->accepts(""));
    for (const char* piece : {"{\"na", "me\": \"get_w", "eather\", \"arguments\": ", "{\"city\"", ": \"Paris\"}"}) {
        ASSERT_TRUE(c->accepts(piece)) << piece;
        c->advance(piece);
        EXPECT_FALSE(c->done());
    }
    EXPECT_FALSE(c->accepts("]"));
    ASSERT_TRUE(c->accepts("}"));
    c->advance("}");
    EXPECT_TRUE(c->done());
    EXPECT_FALSE(c->accepts(" "));
}

namespace {

// Tokens are JSON fragments; logits are a hash of the history (as in the scheduler tests).
const char* kPieces[] = {"<eos>", "{", "}", "[", "]", "\"", "a", "b", ":", ",", " ", "1", "0", ".", "-", "e",
                         "true", "null", "\"k\":", "x", "\\", "n", "{\"", "\"}", "2", "]}", ", ", "\"v\"", "fal", "se",
                         "u", "l", "r", "t", "f", "s"};  // every byte a JSON value needs exists alone: no dead ends
constexpr int32_t kVocab = sizeof(kPieces) / sizeof(kPieces[0]);

class JsonishBackend : public DecodeBackend {
public:
    int32_t n_vocab() const override { return kVocab; }
    int64_t n_ctx() const override { return 4096; }
    int n_batch() const override { return 512; }
    void decode(const Batch& b) override {
        out_.assign(b.size(), {});
        for (size_t i = 0; i < b.size(); ++i) {
            auto& h = hist_[b.seq[i]];
            h.push_back(b.tokens[i]);
            if (!b.logits[i]) continue;
            uint64_t x = 1469598103934665603ull;
            for (int32_t t : h) x = (x ^ uint64_t(t)) * 1099511628211ull;
            out_[i].resize(kVocab);
            for (int v = 0; v < kVocab; ++v) out_[i][v] = float(((x ^ uint64_t(v * 31337)) * 0x9E3779B97F4A7C15ull) >> 54);
        }
    }
    const float* logits(size_t i) const override { return out_[i].data(); }
    void kv_remove(int32_t seq, int32_t p0, int32_t) override { hist_[seq].resize(std::min<size_t>(p0, hist_[seq].size())); }

private:
    std::vector<std::vector<int32_t>> hist_ = std::vector<std::vector<int32_t>>(4);
    std::vector<std::vector<float>> out_;
};

class JsonishText : public TokenText {
public:
    std::string piece(int32_t t) const override { return t == 0 ? "" : kPieces[t]; }
    bool is_eog(int32_t t) const override { return t == 0; }
};

}  // namespace

TEST(ServerConstraint, SchedulerEmitsOnlyJsonObjects) {
    JsonishBackend be;
    JsonishText text;
    Scheduler s(be, text, {2, 16, 512}, nullptr);
    s.start();
    int complete = 0;
    for (int i = 0; i < 12; ++i) {
        Task t;
        t.prompt = {1 + i % 5, 2, 3 + i};
        t.max_tokens = 60;
        t.sampling.temperature = 1.0f;
        t.sampling.seed = 1000 + i;
        t.constraint = OutputConstraint::json_object();
        auto ch = t.channel;
        s.submit(std::move(t));
        std::string out, finish;
        Event ev;
        auto deadline = Clock::now() + 10s;
        while (finish.empty() && Clock::now() < deadline) {
            if (!ch->pop(ev, 50ms)) continue;
            out += ev.text;
            ASSERT_NE(ev.kind, Event::Kind::Error) << ev.error;
            if (ev.kind == Event::Kind::Done) finish = ev.finish_reason;
        }
        bool done = false;
        EXPECT_TRUE(valid_prefix(out, &done)) << out;
        if (finish == "stop") {
            EXPECT_TRUE(done) << out;
            EXPECT_TRUE(nlohmann::json::parse(out).is_object()) << out;
            ++complete;
        } else {
            EXPECT_EQ(finish, "length");
        }
    }
    EXPECT_GT(complete, 0);
}

// Regression (fuzz_request): "{\"a\":\"\\uda" was accepted and closed as "\uda00", a lone UTF-16
// surrogate that nlohmann (and other strict parsers) reject. Surrogate escapes are refused now.
TEST(ServerConstraint, SurrogateEscapesAreRefused) {
    for (const char* bad : {R"({"a":"\ud800)", R"({"a":"\uDBFF)", R"({"a":"\udc00)", R"({"a":"\uDfFf)", R"({"\ud83d\ude00":1})"})
        EXPECT_FALSE(valid_prefix(bad)) << bad;
    for (const char* ok : {R"({"a":"\ud7ff\ue000\u00e9\uD000"})", R"({"\uffff":1})"}) EXPECT_TRUE(valid_prefix(ok)) << ok;
    for (const char* prefix : {R"({"a":"\ud)", R"({"a":"\uD7)", R"({"\ud)"}) {
        JsonPrefix p(true);
        for (const char* c = prefix; *c; ++c) ASSERT_TRUE(p.feed(*c)) << prefix;
        const std::string full = std::string(prefix) + p.closing();
        EXPECT_TRUE(nlohmann::json::parse(full).is_object()) << full;
    }
}

TEST(ServerConstraint, ClosingCompletesEveryState) {
    for (const char* prefix : {"{", "{\"", "{\"k", "{\"k\"", "{\"k\":", "{\"k\": [", "{\"k\": [1", "{\"k\": [1,", "{\"k\":-",
                               "{\"k\":1.", "{\"k\":1e", "{\"k\":1e+", "{\"k\":tr", "{\"k\":\"v\\", "{\"k\":\"\\u12",
                               "{\"k\":{\"a\":[[{\"", "{\"k\":1,", "{\"k\":[]", "{\"k\\"}) {
        JsonPrefix p(true);
        for (const char* c = prefix; *c; ++c) ASSERT_TRUE(p.feed(*c)) << prefix;
        std::string full = std::string(prefix) + p.closing();
        bool complete = false;
        EXPECT_TRUE(valid_prefix(full, &complete)) << full;
        EXPECT_TRUE(complete) << full;
        EXPECT_TRUE(nlohmann::json::parse(full).is_object()) << full;
    }
    EXPECT_EQ(JsonPrefix(true).closing(), "{}");
    auto c = OutputConstraint::tool_call({"get_weather"});
    c->advance("{\"name\": \"get_w");
    EXPECT_EQ(c->closing(), "eather\", \"arguments\": {}}");
    c->advance("eather\", \"arguments\": {\"city\": \"Pa");
    EXPECT_EQ(c->closing(), "\"}}");
}

TEST(ServerConstraint, TightBudgetStillEndsInValidJson) {
    JsonishBackend be;
    JsonishText text;
    Scheduler s(be, text, {1, 16, 512}, nullptr);
    s.start();
    for (int i = 0; i < 8; ++i) {
        Task t;
        t.prompt = {1 + i, 4, 2};
        t.max_tokens = 12 + i;
        t.sampling.temperature = 1.0f;
        t.sampling.seed = 7 + i;
        t.constraint = OutputConstraint::json_object();
        auto ch = t.channel;
        s.submit(std::move(t));
        std::string out, finish;
        Event ev;
        auto deadline = Clock::now() + 10s;
        while (finish.empty() && Clock::now() < deadline) {
            if (!ch->pop(ev, 50ms)) continue;
            out += ev.text;
            if (ev.kind == Event::Kind::Done) finish = ev.finish_reason;
        }
        EXPECT_EQ(finish, "stop") << out;
        EXPECT_TRUE(nlohmann::json::parse(out).is_object()) << out;
    }
}
