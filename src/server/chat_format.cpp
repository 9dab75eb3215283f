// Chat template rendering (through hearth::chat) and tool-call extraction (see chat_format.h).
#include "server/chat_format.h"

#include <set>

#include "chat/chat_template.h"
#include "core/error.h"
#include "server/api_error.h"
#include "server/oai_format.h"

namespace hearth::server {

using ojson = nlohmann::ordered_json;

const char* chatml_template() {
    return "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') "
           "+ '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}";
}

// Gemma: user/model turns; a leading system message is folded into the first user turn.
static const char* gemma_template() {
    return "{{- bos_token -}}"
           "{%- if messages[0]['role'] == 'system' -%}{%- set first = messages[0]['content'] + '\n\n' -%}"
           "{%- set loop_messages = messages[1:] -%}"
           "{%- else -%}{%- set first = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
           "{%- for m in loop_messages -%}"
           "{{- '<start_of_turn>' + ('model' if m['role'] == 'assistant' else 'user') + '\n' + "
           "(first if loop.first else '') + (m['content'] or '') | trim + '<end_of_turn>\n' -}}"
           "{%- endfor -%}"
           "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}";
}

const char* fallback_template(const std::string& architecture) {
    if (architecture.rfind("gemma", 0) == 0) return gemma_template();
    return chatml_template();
}

// Assistant tool_calls arrive with JSON-string arguments; templates expect objects. Null content
// (an assistant turn that only calls tools) becomes "" so templates that concatenate it work.
static ojson prepare_messages(const ojson& messages) {
    ojson out = messages;
    for (auto& m : out) {
        if (m.contains("content") && m["content"].is_null()) m["content"] = "";
        if (!m.contains("tool_calls") || !m["tool_calls"].is_array()) continue;
        for (auto& call : m["tool_calls"]) {
            if (!call.contains("function")) continue;
            auto& f = call["function"];
            if (f.contains("arguments") && f["arguments"].is_string()) {
                ojson parsed = ojson::parse(f["arguments"].get<std::string>(), nullptr, false);
                if (!parsed.is_discarded()) f["arguments"] = parsed;
            }
        }
    }
    return out;
}

std::string ChatFormatter::render(const ojson& messages, const ojson& tools, const ojson& kwargs) const {
    chat::ChatTemplateInputs in;
    in.messages = prepare_messages(messages);
    if (tools.is_array() && !tools.empty()) in.tools = tools;
    in.add_generation_prompt = messages.empty() || messages.back().value("role", std::string()) != "assistant";
    in.extra_context = kwargs.is_object() ? kwargs : ojson::object();
    in.bos_token = bos_token;
    in.eos_token = eos_token;
    try {
        return chat::render_chat_template(template_source, in);
    } catch (const Error& e) {
        throw ApiError(400, std::string("chat template error: ") + e.what(), "messages");
    }
}

namespace {

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// {"name": N, "arguments"|"parameters": {...}} naming a known tool -> OpenAI tool call.
bool to_call(const nlohmann::json& j, const std::set<std::string>& names, nlohmann::json& call) {
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
    std::string name = j["name"];
    if (!names.empty() && !names.count(name)) return false;
    nlohmann::json args = j.contains("arguments") ? j["arguments"] : j.value("parameters", nlohmann::json::object());
    call = {{"id", make_id("call")},
            {"type", "function"},
            {"function", {{"name", name}, {"arguments", args.is_string() ? args.get<std::string>() : dump_json(args)}}}};
    return true;
}

}  // namespace

ParsedAssistant parse_assistant_output(const std::string& text, const ojson& tools) {
    ParsedAssistant out;
    std::set<std::string> names;
    for (const auto& t : tools)
        if (t.contains("function") && t["function"].contains("name")) names.insert(t["function"]["name"].get<std::string>());
    const std::string open = "<tool_call>", close = "</tool_call>";
    std::string content;
    size_t pos = 0;
    bool any = false;
    while (true) {
        size_t a = text.find(open, pos);
        if (a == std::string::npos) break;
        size_t b = text.find(close, a + open.size());
        std::string body = text.substr(a + open.size(), b == std::string::npos ? std::string::npos : b - a - open.size());
        nlohmann::json j = nlohmann::json::parse(trim(body), nullptr, false);
        nlohmann::json call;
        if (j.is_discarded() || !to_call(j, names, call)) break;
        content += text.substr(pos, a - pos);
        out.tool_calls.push_back(call);
        any = true;
        pos = b == std::string::npos ? text.size() : b + close.size();
    }
    if (any) {
        content += text.substr(pos);
        out.content = trim(content);
        return out;
    }
    // A bare JSON object as the whole reply (Llama 3.x style).
    std::string t = trim(text);
    if (!t.empty() && t.front() == '{') {
        nlohmann::json j = nlohmann::json::parse(t, nullptr, false);
        nlohmann::json call;
        if (!j.is_discarded() && to_call(j, names, call)) {
            out.tool_calls.push_back(call);
            return out;
        }
    }
    out.content = text;
    return out;
}

}  // namespace hearth::server
