// The one declarative schema of generation requests (chat completions, completions, /completion):
// a table of accepted fields with their JSON type and range, checked before anything else, then
// extraction into a typed GenerationRequest. Violations throw ApiError 400 naming the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/sampler.h"

namespace hearth::server {

enum class Endpoint { Chat, Completions, LegacyCompletion };

struct RequestLimits {
    size_t max_body_bytes = 2u << 20;  // larger bodies get 413
    int max_json_depth = 64;           // nesting deeper than this is refused before parsing
    size_t max_stop = 16;              // stop strings per request
    size_t max_stop_bytes = 256;       // bytes per stop string
    int max_top_logprobs = 20;
    size_t max_messages = 4096;
    size_t max_tools = 128;
    size_t max_logit_bias = 4096;
    int32_t max_tokens_cap = 1 << 20;
};

// Everything a generation needs, already validated (types and ranges; prompt length against the
// context is checked later, after tokenization).
struct GenerationRequest {
    Endpoint endpoint = Endpoint::Chat;
    std::string model;
    nlohmann::ordered_json messages;               // chat: validated array of {role, content, ...}
    std::string prompt;                    // completions: prompt text
    std::vector<int32_t> prompt_tokens;    // completions: prompt given as token ids
    bool prompt_is_tokens = false;
    int32_t max_tokens = -1;               // -1: until EOS or the context is full
    SamplerParams sampling;
    bool seed_given = false;
    std::vector<std::string> stop;
    bool logprobs = false;                 // return the chosen token's logprob
    int top_logprobs = 0;                  // and this many alternatives
    bool stream = false;
    bool include_usage = false;            // stream_options.include_usage
    std::string response_format = "text";  // text | json_object | json_schema
    nlohmann::ordered_json json_schema;            // response_format.json_schema.schema, when given
    nlohmann::ordered_json tools = nlohmann::ordered_json::array();
    std::string tool_choice = "auto";      // auto | none | required | function
    std::string tool_choice_function;      // the name when tool_choice is a function object
    bool parallel_tool_calls = true;
    nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
    bool cache_prompt = true;
    bool echo = false;                     // completions: prefix the prompt to the text
};

// Checks the raw body's nesting depth without building anything (a 2 MB "[[[[..." must not recurse).
// Throws ApiError 400 when deeper than limit.
void check_json_depth(std::string_view body, int max_depth);

// Parses a body into JSON: invalid JSON or invalid UTF-8 -> ApiError 400; non-object -> 400.
nlohmann::ordered_json parse_body(std::string_view body, const RequestLimits& limits);

// Validates every known field of `body` against the schema table for `endpoint`, then extracts.
// n_vocab bounds token ids (logit_bias keys, token prompts).
GenerationRequest parse_generation_request(const nlohmann::ordered_json& body, Endpoint endpoint,
                                           const RequestLimits& limits, int32_t n_vocab);

// Reads an integer field that must be within [lo, hi] (shared by /tokenize etc.); nullopt if absent.
std::optional<int64_t> get_int_field(const nlohmann::ordered_json& body, const char* name, int64_t lo, int64_t hi);
std::optional<bool> get_bool_field(const nlohmann::ordered_json& body, const char* name);
std::optional<std::string> get_string_field(const nlohmann::ordered_json& body, const char* name);
// An array of token ids, each within [0, n_vocab).
std::vector<int32_t> get_token_array(const nlohmann::ordered_json& value, const char* name, int32_t n_vocab);

}  // namespace hearth::server
