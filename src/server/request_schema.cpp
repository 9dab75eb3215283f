// Schema table and extraction for generation requests. The table (kFields) is the single place
// that says which fields exist, for which endpoints, with which JSON types and ranges; unknown
// fields are ignored as OpenAI clients send extras. Message/tool/stop shapes are checked below it.
#include "server/request_schema.h"

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace hearth::server {

using json = nlohmann::ordered_json;

namespace {

enum Kind : unsigned { kBool = 1, kInt = 2, kNumber = 4, kString = 8, kArray = 16, kObject = 32, kNull = 64 };
enum Ep : unsigned { kChat = 1, kCompl = 2, kLegacy = 4, kAll = 7 };

struct FieldRule {
    const char* name;
    unsigned kinds;  // accepted JSON kinds (kNumber accepts integers too)
    double lo, hi;   // inclusive range for numbers
    unsigned endpoints;
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxTok = double(1 << 20);

// clang-format off
const FieldRule kFields[] = {
    {"model",                 kString | kNull,          0, 0, kAll},
    {"messages",              kArray,                   0, 0, kChat},
    {"prompt",                kString | kArray,         0, 0, kCompl | kLegacy},
    {"max_tokens",            kInt | kNull,             0, kMaxTok, kAll},
    {"max_completion_tokens", kInt | kNull,             0, kMaxTok, kChat},
    {"n_predict",             kInt | kNull,            -1, kMaxTok, kAll},
    {"n",                     kInt | kNull,             1, 1, kAll},
    {"temperature",           kNumber | kNull,          0, 2, kAll},
    {"top_p",                 kNumber | kNull,          0, 1, kAll},
    {"top_k",                 kInt | kNull,             0, 1e9, kAll},
    {"min_p",                 kNumber | kNull,          0, 1, kAll},
    {"typical_p",             kNumber | kNull,          0, 1, kAll},
    {"seed",                  kInt | kNull,            -1, 1.8446744073709552e19, kAll},
    {"stop",                  kString | kArray | kNull, 0, 0, kAll},
    {"presence_penalty",      kNumber | kNull,         -2, 2, kAll},
    {"frequency_penalty",     kNumber | kNull,         -2, 2, kAll},
    {"repeat_penalty",        kNumber | kNull,          0, 10, kAll},
    {"repeat_last_n",         kInt | kNull,            -1, kMaxTok, kAll},
    {"logit_bias",            kObject | kArray | kNull, 0, 0, kAll},
    {"logprobs",              kBool | kNull,            0, 0, kChat},
    {"logprobs",              kInt | kBool | kNull,     0, 20, kCompl},
    {"n_probs",               kInt | kNull,             0, 20, kLegacy},
    {"top_logprobs",          kInt | kNull,             0, 20, kChat},
    {"response_format",       kObject | kNull,          0, 0, kAll},
    {"stream",                kBool | kNull,            0, 0, kAll},
    {"stream_options",        kObject | kNull,          0, 0, kAll},
    {"tools",                 kArray | kNull,           0, 0, kChat},
    {"tool_choice",           kString | kObject | kNull, 0, 0, kChat},
    {"parallel_tool_calls",   kBool | kNull,            0, 0, kChat},
    {"chat_template_kwargs",  kObject | kNull,          0, 0, kChat},
    {"cache_prompt",          kBool | kNull,            0, 0, kAll},
    {"echo",                  kBool | kNull,            0, 0, kCompl},
    {"user",                  kString | kNull,          0, 0, kAll},
};
// clang-format on

unsigned endpoint_bit(Endpoint e) {
    switch (e) {
        case Endpoint::Chat: return kChat;
        case Endpoint::Completions: return kCompl;
        case Endpoint::LegacyCompletion: return kLegacy;
    }
    return 0;
}

bool is_integral(const json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
}

std::string kinds_text(unsigned k) {
    std::string s;
    auto add = [&](unsigned bit, const char* name) {
        if (!(k & bit)) return;
        if (!s.empty()) s += " or ";
        s += name;
    };
    add(kBool, "a boolean");
    add(kInt, "an integer");
    add(kNumber, "a number");
    add(kString, "a string");
    add(kArray, "an array");
    add(kObject, "an object");
    return s;
}

bool kind_matches(const json& v, unsigned kinds) {
    if (v.is_null()) return kinds & kNull;
    if (v.is_boolean()) return kinds & kBool;
    if (v.is_number()) return (kinds & kNumber) || ((kinds & kInt) && is_integral(v));
    if (v.is_string()) return kinds & kString;
    if (v.is_array()) return kinds & kArray;
    if (v.is_object()) return kinds & kObject;
    return false;
}

std::string fmt_num(double d) {
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(int64_t(d));
    std::string s = std::to_string(d);
    while (!s.empty() && s.back() == '0') s.pop_back();
    return s;
}

void check_field(const FieldRule& r, const json& v) {
    if (!kind_matches(v, r.kinds)) {
        throw bad_request(std::string("'") + r.name + "' must be " + kinds_text(r.kinds & ~kNull) + ", got " +
                              v.type_name(),
                          r.name);
    }
    if (v.is_number() && (r.lo != 0 || r.hi != 0)) {
        double d = v.get<double>();
        if (!std::isfinite(d) || d < r.lo || d > r.hi) {
            if (std::string_view(r.name) == "n")
                throw bad_request("only n=1 is supported, got n=" + v.dump(), "n");
            throw bad_request(std::string("'") + r.name + "' must be between " + fmt_num(r.lo) + " and " +
                                  fmt_num(r.hi) + ", got " + v.dump(),
                              r.name);
        }
    }
}

// Returns the field's value when present and not null.
const json* present(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return nullptr;
    return &*it;
}

int32_t as_i32(const json& v) { return static_cast<int32_t>(v.get<double>()); }

// Chat content: a string, null, or an array of {type:"text", text} parts (joined).
json normalize_content(const json& c, size_t index) {
    std::string param = "messages[" + std::to_string(index) + "].content";
    if (c.is_null() || c.is_string()) return c;
    if (!c.is_array()) throw bad_request("'" + param + "' must be a string, an array of parts or null", param);
    std::string text;
    for (const auto& part : c) {
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
            throw bad_request("each part of '" + param + "' must be an object with a string 'type'", param);
        const std::string type = part["type"];
        if (type != "text") throw bad_request("content part type '" + type + "' is not supported (text only)", param);
        if (!part.contains("text") || !part["text"].is_string())
            throw bad_request("a text part of '" + param + "' needs a string 'text'", param);
        text += part["text"].get<std::string>();
    }
    return text;
}

json validate_messages(const json& msgs, const RequestLimits& limits) {
    if (msgs.empty()) throw bad_request("'messages' must not be empty", "messages");
    if (msgs.size() > limits.max_messages)
        throw bad_request("'messages' has " + std::to_string(msgs.size()) + " entries; at most " +
                              std::to_string(limits.max_messages) + " are accepted",
                          "messages");
    json out = json::array();
    for (size_t i = 0; i < msgs.size(); ++i) {
        const json& m = msgs[i];
        std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) throw bad_request("'" + p + "' must be an object", p);
        if (!m.contains("role") || !m["role"].is_string()) throw bad_request("'" + p + ".role' must be a string", p + ".role");
        std::string role = m["role"];
        if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool" &&
            role != "function")
            throw bad_request("'" + p + ".role' must be one of system, developer, user, assistant, tool; got '" + role + "'",
                              p + ".role");
        json n = m;
        n["content"] = normalize_content(m.contains("content") ? m["content"] : json(nullptr), i);
        if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
            const json& tc = m["tool_calls"];
            if (!tc.is_array()) throw bad_request("'" + p + ".tool_calls' must be an array", p + ".tool_calls");
            for (const auto& call : tc) {
                if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
                    !call["function"].contains("name") || !call["function"]["name"].is_string())
                    throw bad_request("each of '" + p + ".tool_calls' needs function.name", p + ".tool_calls");
                const json& args = call["function"].value("arguments", json(""));
                if (!args.is_string() && !args.is_object())
                    throw bad_request("'" + p + ".tool_calls[].function.arguments' must be a string", p + ".tool_calls");
            }
        }
        if (m.contains("tool_call_id") && !m["tool_call_id"].is_string() && !m["tool_call_id"].is_null())
            throw bad_request("'" + p + ".tool_call_id' must be a string", p + ".tool_call_id");
        out.push_back(std::move(n));
    }
    return out;
}

void validate_tools(const json& tools, const RequestLimits& limits) {
    if (tools.size() > limits.max_tools)
        throw bad_request("'tools' has " + std::to_string(tools.size()) + " entries; at most " +
                              std::to_string(limits.max_tools) + " are accepted",
                          "tools");
    for (size_t i = 0; i < tools.size(); ++i) {
        const json& t = tools[i];
        std::string p = "tools[" + std::to_string(i) + "]";
        if (!t.is_object() || t.value("type", std::string()) != "function")
            throw bad_request("'" + p + "' must be an object with type \"function\"", p);
        if (!t.contains("function") || !t["function"].is_object())
            throw bad_request("'" + p + ".function' must be an object", p + ".function");
        const json& f = t["function"];
        if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
            throw bad_request("'" + p + ".function.name' must be a non-empty string", p + ".function.name");
        if (f.contains("description") && !f["description"].is_string() && !f["description"].is_null())
            throw bad_request("'" + p + ".function.description' must be a string", p + ".function.description");
        if (f.contains("parameters") && !f["parameters"].is_object() && !f["parameters"].is_null())
            throw bad_request("'" + p + ".function.parameters' must be an object", p + ".function.parameters");
    }
}

std::vector<std::string> extract_stop(const json& v, const RequestLimits& limits) {
    std::vector<std::string> out;
    auto add = [&](const json& s) {
        if (!s.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop");
        std::string str = s;
        if (str.empty()) return;
        if (str.size() > limits.max_stop_bytes)
            throw bad_request("each stop string must be at most " + std::to_string(limits.max_stop_bytes) +
                                  " bytes, got " + std::to_string(str.size()),
                              "stop");
        out.push_back(std::move(str));
    };
    if (v.is_string()) {
        add(v);
    } else {
        if (v.size() > limits.max_stop)
            throw bad_request("'stop' has " + std::to_string(v.size()) + " strings; at most " +
                                  std::to_string(limits.max_stop) + " are accepted",
                              "stop");
        for (const auto& s : v) add(s);
    }
    return out;
}

int32_t parse_token_key(const std::string& key, int32_t n_vocab) {
    if (key.empty() || key.size() > 10) throw bad_request("'logit_bias' key '" + key + "' is not a token id", "logit_bias");
    int64_t id = 0;
    for (char c : key) {
        if (c < '0' || c > '9') throw bad_request("'logit_bias' key '" + key + "' is not a token id", "logit_bias");
        id = id * 10 + (c - '0');
    }
    if (id >= n_vocab)
        throw bad_request("'logit_bias' token id " + key + " is outside the vocabulary (n_vocab " +
                              std::to_string(n_vocab) + ")",
                          "logit_bias");
    return static_cast<int32_t>(id);
}

float bias_value(const json& v) {
    if (v.is_boolean() && !v.get<bool>()) return -std::numeric_limits<float>::infinity();
    if (!v.is_number()) throw bad_request("'logit_bias' values must be numbers between -100 and 100", "logit_bias");
    double d = v.get<double>();
    if (!std::isfinite(d) || d < -100 || d > 100)
        throw bad_request("'logit_bias' values must be between -100 and 100, got " + v.dump(), "logit_bias");
    return d <= -100 ? -std::numeric_limits<float>::infinity() : static_cast<float>(d);
}

std::vector<std::pair<int32_t, float>> extract_logit_bias(const json& v, const RequestLimits& limits, int32_t n_vocab) {
    std::vector<std::pair<int32_t, float>> out;
    if (v.size() > limits.max_logit_bias)
        throw bad_request("'logit_bias' has more than " + std::to_string(limits.max_logit_bias) + " entries", "logit_bias");
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) out.emplace_back(parse_token_key(it.key(), n_vocab), bias_value(it.value()));
    } else {
        for (const auto& e : v) {
            if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer())
                throw bad_request("'logit_bias' array entries must be [token_id, bias]", "logit_bias");
            int64_t id = e[0].get<int64_t>();
            if (id < 0 || id >= n_vocab)
                throw bad_request("'logit_bias' token id " + std::to_string(id) + " is outside the vocabulary", "logit_bias");
            out.emplace_back(static_cast<int32_t>(id), bias_value(e[1]));
        }
    }
    return out;
}

}  // namespace

void check_json_depth(std::string_view body, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                throw bad_request("JSON nesting deeper than " + std::to_string(max_depth) + " levels is not accepted");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

json parse_body(std::string_view body, const RequestLimits& limits) {
    if (body.size() > limits.max_body_bytes)
        throw ApiError(413, "request body of " + std::to_string(body.size()) + " bytes exceeds the limit of " +
                                std::to_string(limits.max_body_bytes) + " bytes");
    check_json_depth(body, limits.max_json_depth);
    json j;
    try {
        j = json::parse(body.begin(), body.end());
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1E999999
        throw bad_request(std::string("invalid JSON body: ") + e.what());
    }
    if (!j.is_object()) throw bad_request(std::string("the request body must be a JSON object, got ") + j.type_name());
    return j;
}

std::optional<int64_t> get_int_field(const json& body, const char* name, int64_t lo, int64_t hi) {
    const json* v = present(body, name);
    if (!v) return std::nullopt;
    if (!is_integral(*v)) throw bad_request(std::string("'") + name + "' must be an integer", name);
    double d = v->get<double>();
    if (d < double(lo) || d > double(hi))
        throw bad_request(std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi) + ", got " + v->dump(),
                          name);
    return static_cast<int64_t>(d);
}

std::optional<bool> get_bool_field(const json& body, const char* name) {
    const json* v = present(body, name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) throw bad_request(std::string("'") + name + "' must be a boolean", name);
    return v->get<bool>();
}

std::optional<std::string> get_string_field(const json& body, const char* name) {
    const json* v = present(body, name);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw bad_request(std::string("'") + name + "' must be a string", name);
    return v->get<std::string>();
}

std::vector<int32_t> get_token_array(const json& value, const char* name, int32_t n_vocab) {
    if (!value.is_array()) throw bad_request(std::string("'") + name + "' must be an array of token ids", name);
    std::vector<int32_t> out;
    out.reserve(value.size());
    for (const auto& t : value) {
        if (!t.is_number_integer())
            throw bad_request(std::string("'") + name + "' must contain only integer token ids", name);
        int64_t id = t.get<int64_t>();
        if (id < 0 || id >= n_vocab)
            throw bad_request(std::string("'") + name + "' token id " + std::to_string(id) +
                                  " is outside the vocabulary (n_vocab " + std::to_string(n_vocab) + ")",
                              name);
        out.push_back(static_cast<int32_t>(id));
    }
    return out;
}

GenerationRequest parse_generation_request(const json& body, Endpoint endpoint, const RequestLimits& limits,
                                           int32_t n_vocab) {
    const unsigned ep = endpoint_bit(endpoint);
    for (const FieldRule& r : kFields) {
        if (!(r.endpoints & ep)) continue;
        auto it = body.find(r.name);
        if (it != body.end()) check_field(r, *it);
    }

    GenerationRequest req;
    req.endpoint = endpoint;
    if (auto s = get_string_field(body, "model")) req.model = *s;

    if (endpoint == Endpoint::Chat) {
        const json* msgs = present(body, "messages");
        if (!msgs) throw bad_request("'messages' is required", "messages");
        req.messages = validate_messages(*msgs, limits);
    } else {
        const json* p = present(body, "prompt");
        if (!p) throw bad_request("'prompt' is required", "prompt");
        if (p->is_string()) {
            req.prompt = *p;
        } else if (p->size() == 1 && (*p)[0].is_string()) {
            req.prompt = (*p)[0];
        } else if (!p->empty() && (*p)[0].is_number()) {
            req.prompt_tokens = get_token_array(*p, "prompt", n_vocab);
            req.prompt_is_tokens = true;
        } else {
            throw bad_request("'prompt' must be a string, an array of one string, or an array of token ids", "prompt");
        }
    }

    if (const json* v = present(body, "n_predict")) req.max_tokens = as_i32(*v);
    if (const json* v = present(body, "max_tokens")) req.max_tokens = as_i32(*v);
    if (endpoint == Endpoint::Chat)
        if (const json* v = present(body, "max_completion_tokens")) req.max_tokens = as_i32(*v);

    SamplerParams& s = req.sampling;
    if (const json* v = present(body, "temperature")) s.temperature = v->get<float>();
    if (const json* v = present(body, "top_p")) s.top_p = v->get<float>();
    if (const json* v = present(body, "top_k")) s.top_k = as_i32(*v);
    if (const json* v = present(body, "min_p")) s.min_p = v->get<float>();
    if (const json* v = present(body, "typical_p")) s.typical_p = v->get<float>();
    if (const json* v = present(body, "presence_penalty")) s.presence_penalty = v->get<float>();
    if (const json* v = present(body, "frequency_penalty")) s.frequency_penalty = v->get<float>();
    if (const json* v = present(body, "repeat_penalty")) s.repeat_penalty = v->get<float>();
    if (const json* v = present(body, "repeat_last_n")) s.penalty_last_n = as_i32(*v);
    if (const json* v = present(body, "seed")) {
        if (v->is_number_unsigned()) {
            s.seed = v->get<uint64_t>();
            req.seed_given = true;
        } else if (v->get<double>() >= 0) {
            s.seed = static_cast<uint64_t>(v->get<double>());
            req.seed_given = true;
        }
    }
    if (const json* v = present(body, "logit_bias")) s.logit_bias = extract_logit_bias(*v, limits, n_vocab);
    if (const json* v = present(body, "stop")) req.stop = extract_stop(*v, limits);

    if (endpoint == Endpoint::Chat) {
        req.logprobs = get_bool_field(body, "logprobs").value_or(false);
        if (const json* v = present(body, "top_logprobs")) {
            req.top_logprobs = as_i32(*v);
            if (!req.logprobs && req.top_logprobs > 0)
                throw bad_request("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
        }
    } else if (endpoint == Endpoint::Completions) {
        if (const json* v = present(body, "logprobs")) {
            if (v->is_boolean()) {
                req.logprobs = v->get<bool>();
            } else {
                req.logprobs = true;
                req.top_logprobs = as_i32(*v);
            }
        }
        req.echo = get_bool_field(body, "echo").value_or(false);
    } else if (const json* v = present(body, "n_probs")) {
        req.top_logprobs = as_i32(*v);
        req.logprobs = req.top_logprobs > 0;
    }

    if (const json* v = present(body, "response_format")) {
        const json* type = present(*v, "type");
        if (!type || !type->is_string())
            throw bad_request("'response_format.type' must be a string", "response_format");
        req.response_format = *type;
        if (req.response_format != "text" && req.response_format != "json_object" && req.response_format != "json_schema")
            throw bad_request("'response_format.type' must be text, json_object or json_schema, got '" +
                                  req.response_format + "'",
                              "response_format");
        if (req.response_format == "json_schema") {
            const json* js = present(*v, "json_schema");
            if (js && js->is_object() && js->contains("schema")) req.json_schema = (*js)["schema"];
            else if (const json* sc = present(*v, "schema")) req.json_schema = *sc;
            if (!req.json_schema.is_null() && !req.json_schema.is_object() && !req.json_schema.is_boolean())
                throw bad_request("'response_format.json_schema.schema' must be an object", "response_format");
        }
    }

    req.stream = get_bool_field(body, "stream").value_or(false);
    if (const json* v = present(body, "stream_options")) {
        if (!req.stream) throw bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
        req.include_usage = get_bool_field(*v, "include_usage").value_or(false);
    }

    if (endpoint == Endpoint::Chat) {
        if (const json* v = present(body, "tools")) {
            validate_tools(*v, limits);
            req.tools = *v;
        }
        if (const json* v = present(body, "tool_choice")) {
            if (v->is_string()) {
                req.tool_choice = *v;
                if (req.tool_choice != "auto" && req.tool_choice != "none" && req.tool_choice != "required")
                    throw bad_request("'tool_choice' must be auto, none, required or a function object", "tool_choice");
            } else {
                const json* f = present(*v, "function");
                if (!f || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
                    throw bad_request("'tool_choice' object must be {\"type\":\"function\",\"function\":{\"name\":...}}",
                                      "tool_choice");
                req.tool_choice = "function";
                req.tool_choice_function = (*f)["name"];
            }
            if (req.tool_choice != "auto" && req.tool_choice != "none" && req.tools.empty())
                throw bad_request("'tool_choice' requires 'tools'", "tool_choice");
        }
        req.parallel_tool_calls = get_bool_field(body, "parallel_tool_calls").value_or(true);
        if (const json* v = present(body, "chat_template_kwargs")) req.chat_template_kwargs = *v;
    }
    req.cache_prompt = get_bool_field(body, "cache_prompt").value_or(true);
    return req;
}

}  // namespace hearth::server
