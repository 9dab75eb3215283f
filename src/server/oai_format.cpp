// Builders for the OpenAI- and llama-server-shaped response objects (see oai_format.h).
#include "server/oai_format.h"

#include <random>

#include "server/text_stream.h"

namespace hearth::server {

using nlohmann::json;

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string make_id(const char* prefix) {
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id = std::string(prefix) + "-";
    for (int i = 0; i < 24; ++i) id += kAlnum[rng() % (sizeof kAlnum - 1)];
    return id;
}

json usage_json(const TaskStats& s) {
    int64_t prompt = s.prompt_n + s.cached_n;
    return {{"prompt_tokens", prompt},
            {"completion_tokens", s.predicted_n},
            {"total_tokens", prompt + s.predicted_n},
            {"prompt_tokens_details", {{"cached_tokens", s.cached_n}}}};
}

json timings_json(const TaskStats& s) {
    auto per_token = [](double ms, int64_t n) { return n > 0 ? ms / double(n) : 0.0; };
    auto per_second = [](double ms, int64_t n) { return ms > 0 ? 1000.0 * double(n) / ms : 0.0; };
    return {{"cache_n", s.cached_n},
            {"prompt_n", s.prompt_n},
            {"prompt_ms", s.prompt_ms},
            {"prompt_per_token_ms", per_token(s.prompt_ms, s.prompt_n)},
            {"prompt_per_second", per_second(s.prompt_ms, s.prompt_n)},
            {"predicted_n", s.predicted_n},
            {"predicted_ms", s.predicted_ms},
            {"predicted_per_token_ms", per_token(s.predicted_ms, s.predicted_n)},
            {"predicted_per_second", per_second(s.predicted_ms, s.predicted_n)},
            {"queue_ms", s.queue_ms}};
}

static json bytes_of(const std::string& piece) {
    json b = json::array();
    for (unsigned char c : piece) b.push_back(int(c));
    return b;
}

json chat_logprobs_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece) {
    json content = json::array();
    for (const auto& t : tokens) {
        json top = json::array();
        for (const auto& alt : t.top) {
            std::string p = piece(alt.id);
            top.push_back({{"token", utf8_sanitize(p)}, {"logprob", alt.logprob}, {"bytes", bytes_of(p)}});
        }
        content.push_back({{"token", utf8_sanitize(t.piece)},
                           {"logprob", t.logprob},
                           {"bytes", bytes_of(t.piece)},
                           {"top_logprobs", top}});
    }
    return {{"content", content}};
}

json completion_logprobs_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece, size_t offset) {
    json toks = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
    for (const auto& t : tokens) {
        toks.push_back(utf8_sanitize(t.piece));
        lps.push_back(t.logprob);
        json top = json::object();
        for (const auto& alt : t.top) top[utf8_sanitize(piece(alt.id))] = alt.logprob;
        tops.push_back(top);
        offs.push_back(offset);
        offset += t.piece.size();
    }
    return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json probabilities_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece) {
    json out = json::array();
    for (const auto& t : tokens) {
        json top = json::array();
        for (const auto& alt : t.top) {
            std::string p = piece(alt.id);
            top.push_back({{"id", alt.id}, {"token", utf8_sanitize(p)}, {"logprob", alt.logprob}, {"bytes", bytes_of(p)}});
        }
        out.push_back({{"id", t.id},
                       {"token", utf8_sanitize(t.piece)},
                       {"logprob", t.logprob},
                       {"bytes", bytes_of(t.piece)},
                       {"top_logprobs", top}});
    }
    return out;
}

json chat_completion_json(const ResponseMeta& m, const json& message, const std::string& finish_reason,
                          const json& logprobs, const TaskStats& stats) {
    return {{"id", m.id},
            {"object", "chat.completion"},
            {"created", m.created},
            {"model", m.model},
            {"system_fingerprint", "hearth-0.1.0"},
            {"choices", json::array({{{"index", 0},
                                      {"message", message},
                                      {"logprobs", logprobs},
                                      {"finish_reason", finish_reason}}})},
            {"usage", usage_json(stats)},
            {"timings", timings_json(stats)}};
}

json chat_chunk_json(const ResponseMeta& m, const json& delta, const json& finish_reason, const json& logprobs) {
    return {{"id", m.id},
            {"object", "chat.completion.chunk"},
            {"created", m.created},
            {"model", m.model},
            {"system_fingerprint", "hearth-0.1.0"},
            {"choices", json::array({{{"index", 0},
                                      {"delta", delta},
                                      {"logprobs", logprobs},
                                      {"finish_reason", finish_reason}}})}};
}

json text_completion_json(const ResponseMeta& m, const std::string& text, const json& finish_reason, const json& logprobs) {
    return {{"id", m.id},
            {"object", "text_completion"},
            {"created", m.created},
            {"model", m.model},
            {"system_fingerprint", "hearth-0.1.0"},
            {"choices", json::array({{{"text", text},
                                      {"index", 0},
                                      {"logprobs", logprobs},
                                      {"finish_reason", finish_reason}}})}};
}

}  // namespace hearth::server
