// Generation routes: POST /v1/chat/completions, /v1/completions (+ /completions, /chat/completions)
// and llama-server's /completion. A request is validated, rendered/tokenized, length-checked
// against the slot context, queued, and answered either as one JSON object (the handler waits,
// watching the socket for a client that left) or as an SSE stream (a chunked provider that polls
// the task channel and ends the task when a write fails or the peer is gone).
#include <random>

#include "core/error.h"
#include "server/oai_format.h"
#include "server/peer_watch.h"
#include "server/server_state.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

using nlohmann::json;
using ojson = nlohmann::ordered_json;
using namespace std::chrono_literals;

namespace {

struct Prepared {
    GenerationRequest req;
    std::vector<int32_t> prompt;
    std::string prompt_text;
    bool tools_active = false;  // parse tool calls from the output
};

// Counts a generation request as in flight (drain waits for it) for the guard's lifetime.
struct ActiveGuard {
    std::atomic<int>& n;
    explicit ActiveGuard(std::atomic<int>& c) : n(c) { ++n; }
    ~ActiveGuard() { --n; }
};

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const std::string& text) {
    std::vector<int32_t> ids = tok.encode(text, true, true);
    // A template that writes the BOS text itself plus add_bos would double it.
    if (ids.size() >= 2 && tok.bos() >= 0 && ids[0] == tok.bos() && ids[1] == tok.bos()) ids.erase(ids.begin());
    return ids;
}

Prepared prepare(Server::State& st, const httplib::Request& http, Endpoint ep) {
    require_ready(st);
    ojson body = parse_body(http.body, st.cfg.limits);
    Prepared p;
    p.req = parse_generation_request(body, ep, st.cfg.limits, int32_t(st.model->n_vocab()));
    const Tokenizer& tok = st.tokenizer();
    const char* param = "prompt";
    if (ep == Endpoint::Chat) {
        param = "messages";
        p.tools_active = !p.req.tools.empty() && p.req.tool_choice != "none";
        ojson tools = p.tools_active ? p.req.tools : ojson::array();
        p.prompt_text = st.chat.render(p.req.messages, tools, p.req.chat_template_kwargs);
        p.prompt = tokenize_prompt(tok, p.prompt_text);
    } else if (p.req.prompt_is_tokens) {
        p.prompt = p.req.prompt_tokens;
        p.prompt_text = tok.decode(p.prompt, false);
    } else {
        p.prompt_text = p.req.prompt;
        p.prompt = tokenize_prompt(tok, p.prompt_text);
    }
    if (p.prompt.empty()) throw bad_request("the prompt is empty (no tokens to evaluate)", param);
    const int64_t n_ctx = st.backend->n_ctx();
    if (int64_t(p.prompt.size()) >= n_ctx) {
        throw ApiError(400,
                       "the prompt is " + std::to_string(p.prompt.size()) + " tokens long, but the context size (n_ctx) is " +
                           std::to_string(n_ctx) + " tokens per slot; shorten the prompt or restart with a larger -c",
                       param);
    }
    return p;
}

Task make_task(const Prepared& p) {
    Task t;
    t.prompt = p.prompt;
    t.max_tokens = p.req.max_tokens;
    t.sampling = p.req.sampling;
    if (!p.req.seed_given) {
        static thread_local std::mt19937_64 rng{std::random_device{}()};
        t.sampling.seed = rng() & 0x7FFFFFFFFFFFFFFFull;
    }
    t.stop = p.req.stop;
    t.logprobs = p.req.logprobs;
    t.top_logprobs = p.req.top_logprobs;
    t.cache_prompt = p.req.cache_prompt;
    if (p.tools_active && (p.req.tool_choice == "required" || p.req.tool_choice == "function")) {
        // Forced tool call: the output is {"name": <tool>, "arguments": {...}}, parsed back below.
        std::vector<std::string> names;
        for (const auto& tool : p.req.tools) {
            std::string name = tool["function"]["name"];
            if (p.req.tool_choice != "function" || name == p.req.tool_choice_function) names.push_back(name);
        }
        if (names.empty())
            throw bad_request("tool_choice names '" + p.req.tool_choice_function + "', which is not in 'tools'",
                              "tool_choice");
        t.constraint = OutputConstraint::tool_call(names);
    } else if (p.req.response_format == "json_object" || p.req.response_format == "json_schema") {
        t.constraint = OutputConstraint::json_object();
    }
    return t;
}

std::string stop_type(const std::string& finish, bool word) { return finish == "length" ? "limit" : (word ? "word" : "eos"); }

// Accumulates a whole generation for the non-streaming answer.
struct Collected {
    std::string text;
    std::vector<TokenInfo> tokens;
    std::string finish;
    TaskStats stats;
};

// Builds the assistant message (content or tool_calls) and its finish reason.
json assistant_message(const Prepared& p, const std::string& text, std::string& finish) {
    json msg = {{"role", "assistant"}, {"content", text}};
    if (p.tools_active) {
        ParsedAssistant parsed = parse_assistant_output(text, p.req.tools);
        if (!parsed.tool_calls.empty()) {
            msg["content"] = parsed.content.empty() ? json(nullptr) : json(parsed.content);
            msg["tool_calls"] = parsed.tool_calls;
            finish = "tool_calls";
        }
    }
    return msg;
}

json final_json(Server::State& st, const Prepared& p, const Collected& c, const ResponseMeta& meta) {
    PieceFn piece = [&st](int32_t id) { return st.tokenizer().token_to_piece(id, false); };
    std::string finish = c.finish;
    switch (p.req.endpoint) {
        case Endpoint::Chat: {
            json msg = assistant_message(p, c.text, finish);
            json lp = p.req.logprobs ? chat_logprobs_json(c.tokens, piece) : json(nullptr);
            return chat_completion_json(meta, msg, finish, lp, c.stats);
        }
        case Endpoint::Completions: {
            std::string text = p.req.echo ? p.prompt_text + c.text : c.text;
            json lp = p.req.logprobs ? completion_logprobs_json(c.tokens, piece, p.req.echo ? p.prompt_text.size() : 0)
                                     : json(nullptr);
            json out = text_completion_json(meta, text, finish, lp);
            out["usage"] = usage_json(c.stats);
            out["timings"] = timings_json(c.stats);
            return out;
        }
        case Endpoint::LegacyCompletion: {
            json out = {{"content", c.text},
                        {"id_slot", c.stats.slot},
                        {"stop", true},
                        {"model", meta.model},
                        {"tokens_predicted", c.stats.predicted_n},
                        {"tokens_evaluated", c.stats.prompt_n + c.stats.cached_n},
                        {"tokens_cached", c.stats.cached_n},
                        {"stop_type", stop_type(finish, false)},
                        {"truncated", false},
                        {"timings", timings_json(c.stats)}};
            if (p.req.top_logprobs > 0) out["completion_probabilities"] = probabilities_json(c.tokens, piece);
            return out;
        }
    }
    return {};
}

void answer_blocking(Server::State& st, const httplib::Request& http, httplib::Response& res, const Prepared& p,
                     const ResponseMeta& meta, const std::shared_ptr<TaskChannel>& ch) {
    int fd = find_connection_socket(http.remote_addr, http.remote_port, http.local_port);
    Collected c;
    Event ev;
    auto next_check = Clock::now() + 50ms;
    while (true) {
        bool got = ch->pop(ev, 50ms);
        if (Clock::now() >= next_check) {  // every 50 ms, even while tokens flow
            next_check = Clock::now() + 50ms;
            if (peer_closed(fd)) {  // the client left: free the slot (or never start)
                ch->cancel();
                res.status = 499;
                return;
            }
        }
        if (!got) continue;
        if (ev.kind == Event::Kind::Error) throw ApiError(ev.error_status, ev.error);
        c.text += ev.text;
        for (auto& t : ev.tokens) c.tokens.push_back(std::move(t));
        if (ev.kind == Event::Kind::Done) {
            c.finish = ev.finish_reason;
            c.stats = ev.stats;
            break;
        }
    }
    send_json(res, final_json(st, p, c, meta));
}

// State of one SSE response, shared by the chunked content provider and its releaser.
struct StreamState {
    Server::State* st;
    Prepared p;
    ResponseMeta meta;
    std::shared_ptr<TaskChannel> ch;
    std::unique_ptr<ActiveGuard> guard;
    bool started = false;
    bool finished = false;
    std::string buffered;  // tools active: text held until the end to parse tool calls
    size_t text_offset = 0;
};

// SSE events for one scheduler event.
std::string stream_events(StreamState& s, Event& ev) {
    PieceFn piece = [&s](int32_t id) { return s.st->tokenizer().token_to_piece(id, false); };
    const GenerationRequest& r = s.p.req;
    std::string out;
    if (ev.kind == Event::Kind::Error) {
        s.finished = true;
        return sse_event(ApiError(ev.error_status, ev.error).to_json());
    }
    const bool done = ev.kind == Event::Kind::Done;
    if (r.endpoint == Endpoint::LegacyCompletion) {
        if (!ev.text.empty() || !ev.tokens.empty()) {
            json chunk = {{"content", ev.text}, {"stop", false}, {"id_slot", ev.stats.slot}};
            if (r.top_logprobs > 0) chunk["completion_probabilities"] = probabilities_json(ev.tokens, piece);
            out += sse_event(chunk);
        }
        if (done) {
            out += sse_event({{"content", ""},
                              {"stop", true},
                              {"id_slot", ev.stats.slot},
                              {"model", s.meta.model},
                              {"tokens_predicted", ev.stats.predicted_n},
                              {"tokens_evaluated", ev.stats.prompt_n + ev.stats.cached_n},
                              {"tokens_cached", ev.stats.cached_n},
                              {"stop_type", stop_type(ev.finish_reason, false)},
                              {"timings", timings_json(ev.stats)}});
        }
        return out;
    }
    if (r.endpoint == Endpoint::Completions) {
        if (!ev.text.empty() || !ev.tokens.empty()) {
            json lp = r.logprobs ? completion_logprobs_json(ev.tokens, piece, s.text_offset) : json(nullptr);
            s.text_offset += ev.text.size();
            out += sse_event(text_completion_json(s.meta, ev.text, nullptr, lp));
        }
        if (done) {
            json last = text_completion_json(s.meta, "", ev.finish_reason, nullptr);
            last["timings"] = timings_json(ev.stats);
            out += sse_event(last);
            if (r.include_usage) {
                json u = text_completion_json(s.meta, "", nullptr, nullptr);
                u["choices"] = json::array();
                u["usage"] = usage_json(ev.stats);
                out += sse_event(u);
            }
            out += sse_done();
        }
        return out;
    }
    // Chat.
    if (s.p.tools_active) {
        s.buffered += ev.text;
    } else if (!ev.text.empty() || !ev.tokens.empty()) {
        json lp = r.logprobs ? chat_logprobs_json(ev.tokens, piece) : json(nullptr);
        out += sse_event(chat_chunk_json(s.meta, {{"content", ev.text}}, nullptr, lp));
    }
    if (done) {
        std::string finish = ev.finish_reason;
        if (s.p.tools_active) {
            json msg = assistant_message(s.p, s.buffered, finish);
            if (msg.contains("tool_calls")) {
                json calls = json::array();
                int index = 0;
                for (auto call : msg["tool_calls"]) {
                    call["index"] = index++;
                    calls.push_back(call);
                }
                json delta = {{"tool_calls", calls}};
                if (!msg["content"].is_null()) delta["content"] = msg["content"];
                out += sse_event(chat_chunk_json(s.meta, delta, nullptr, nullptr));
            } else if (!s.buffered.empty()) {
                out += sse_event(chat_chunk_json(s.meta, {{"content", s.buffered}}, nullptr, nullptr));
            }
        }
        json last = chat_chunk_json(s.meta, json::object(), finish, nullptr);
        last["timings"] = timings_json(ev.stats);
        out += sse_event(last);
        if (r.include_usage) {
            json u = chat_chunk_json(s.meta, json::object(), nullptr, nullptr);
            u["choices"] = json::array();
            u["usage"] = usage_json(ev.stats);
            out += sse_event(u);
        }
        out += sse_done();
    }
    return out;
}

void answer_stream(Server::State& st, httplib::Response& res, Prepared p, const ResponseMeta& meta,
                   std::shared_ptr<TaskChannel> ch, std::unique_ptr<ActiveGuard> guard) {
    auto s = std::make_shared<StreamState>();
    s->st = &st;
    s->p = std::move(p);
    s->meta = meta;
    s->ch = std::move(ch);
    s->guard = std::move(guard);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [s](size_t, httplib::DataSink& sink) {
            if (s->finished) {
                sink.done();
                return true;
            }
            std::string out;
            if (!s->started) {
                s->started = true;
                if (s->p.req.endpoint == Endpoint::Chat)  // the role chunk goes out at once
                    out = sse_event(chat_chunk_json(s->meta, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
            }
            Event ev;
            if (s->ch->pop(ev, out.empty() ? 50ms : 0ms)) {
                out += stream_events(*s, ev);
                if (ev.kind != Event::Kind::Delta) s->finished = true;
            }
            if (out.empty()) {
                if (sink.is_writable()) return true;
                s->ch->cancel();  // peer gone while nothing was produced (e.g. still queued)
                return false;
            }
            if (!sink.write(out.data(), out.size())) {
                s->ch->cancel();
                return false;
            }
            if (s->finished) sink.done();
            return true;
        },
        [s](bool) {
            s->ch->cancel();  // no-op when the task already ended
            s->guard.reset();
        });
}

void handle(Server::State& st, const httplib::Request& http, httplib::Response& res, Endpoint ep) {
    try {
        auto guard = std::make_unique<ActiveGuard>(st.active_requests);
        const Clock::time_point arrival = Clock::now();  // TTFT and duration count template + tokenize too
        Prepared p = prepare(st, http, ep);
        Task task = make_task(p);
        task.arrival = arrival;
        auto ch = task.channel;
        ResponseMeta meta;
        meta.id = make_id(ep == Endpoint::Chat ? "chatcmpl" : "cmpl");
        meta.created = int64_t(std::time(nullptr));
        meta.model = st.model_id;
        st.scheduler->submit(std::move(task));
        if (p.req.stream) {
            answer_stream(st, res, std::move(p), meta, ch, std::move(guard));
        } else {
            answer_blocking(st, http, res, p, meta, ch);
        }
    } catch (const ApiError& e) {
        send_error(res, e);
    } catch (const Error& e) {
        send_error(res, ApiError(http_status(e.kind()), e.what()));
    }
}

}  // namespace

void register_generation_routes(Server::State& st) {
    auto chat = [&st](const httplib::Request& q, httplib::Response& r) { handle(st, q, r, Endpoint::Chat); };
    auto compl_ = [&st](const httplib::Request& q, httplib::Response& r) { handle(st, q, r, Endpoint::Completions); };
    auto legacy = [&st](const httplib::Request& q, httplib::Response& r) { handle(st, q, r, Endpoint::LegacyCompletion); };
    st.http.Post("/v1/chat/completions", chat);
    st.http.Post("/chat/completions", chat);
    st.http.Post("/v1/completions", compl_);
    st.http.Post("/completions", compl_);
    st.http.Post("/completion", legacy);
}

}  // namespace hearth::server
