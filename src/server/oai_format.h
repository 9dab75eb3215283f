// JSON shapes of responses: OpenAI chat.completion / chat.completion.chunk / text_completion
// objects, usage (with prompt_tokens_details.cached_tokens), logprobs in chat / legacy-completions /
// llama-server forms, and llama-server's `timings` block. Pure functions of their inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/task.h"

namespace hearth::server {

using PieceFn = std::function<std::string(int32_t)>;  // token id -> raw bytes

// Serializes JSON for the wire; invalid UTF-8 (never expected after sanitizing) becomes U+FFFD.
std::string dump_json(const nlohmann::json& j);
// "data: <json>\n\n"
std::string sse_event(const nlohmann::json& j);
inline const char* sse_done() { return "data: [DONE]\n\n"; }

// A fresh id such as "chatcmpl-<24 random alphanumerics>".
std::string make_id(const char* prefix);

nlohmann::json usage_json(const TaskStats& s);
nlohmann::json timings_json(const TaskStats& s);

// Chat logprobs: {"content":[{token, logprob, bytes, top_logprobs:[...]}]}
nlohmann::json chat_logprobs_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece);
// Legacy completions logprobs: {tokens, token_logprobs, top_logprobs:[{tok:lp}], text_offset}
nlohmann::json completion_logprobs_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece, size_t text_offset0);
// llama-server /completion: [{id, token, logprob, bytes, top_logprobs:[{id, token, logprob, bytes}]}]
nlohmann::json probabilities_json(const std::vector<TokenInfo>& tokens, const PieceFn& piece);

// Common envelope fields.
struct ResponseMeta {
    std::string id;
    int64_t created = 0;
    std::string model;
};

nlohmann::json chat_completion_json(const ResponseMeta& m, const nlohmann::json& message,
                                    const std::string& finish_reason, const nlohmann::json& logprobs,
                                    const TaskStats& stats);
nlohmann::json chat_chunk_json(const ResponseMeta& m, const nlohmann::json& delta, const nlohmann::json& finish_reason,
                               const nlohmann::json& logprobs);
nlohmann::json text_completion_json(const ResponseMeta& m, const std::string& text, const nlohmann::json& finish_reason,
                                    const nlohmann::json& logprobs);

}  // namespace hearth::server
