// Model-output parsing (see tool_calls.h): a small state machine over the accumulated text, with
// partial-tag hold-back so streamed content never shows the start of a <think>/<tool_call> tag.
#include "chat/tool_calls.h"

#include <nlohmann/json.hpp>

namespace hearth::chat {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kCallOpen = "<tool_call>";
constexpr std::string_view kCallClose = "</tool_call>";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the longest suffix of `s` that is a proper prefix of `tag` (text that may become it).
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
    for (size_t k = std::min(s.size(), tag.size() - 1); k > 0; --k)
        if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
    return 0;
}

// End (exclusive) of the JSON object/array starting at s[0], or npos while it is incomplete.
size_t json_value_end(std::string_view s) {
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return i + 1;
            if (depth < 0) return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

// {"name": .., "arguments"|"parameters": {..}|"json"} or {"function": {...}} -> (name, args JSON).
bool tool_call_from_json(const nlohmann::ordered_json& j, ToolCall& out) {
    if (!j.is_object()) return false;
    const nlohmann::ordered_json* obj = &j;
    if (j.contains("function") && j["function"].is_object()) obj = &j["function"];
    auto name = obj->find("name");
    if (name == obj->end() || !name->is_string() || name->get<std::string>().empty()) return false;
    out.name = name->get<std::string>();
    auto args = obj->find("arguments");
    if (args == obj->end()) args = obj->find("parameters");
    if (args == obj->end() || args->is_null()) out.arguments = "{}";
    else if (args->is_string()) out.arguments = args->get<std::string>();
    else out.arguments = args->dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return true;
}

std::string_view trim_ws(std::string_view s) {
    while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

// Qwen3-Coder / Qwen3.5 XML form inside <tool_call>:
//   <function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>...\n</function>
// A VALUE that reads as JSON other than a string (number, bool, null, object, array) is kept as
// that JSON; anything else becomes a JSON string.
bool xml_function_call(std::string_view inner, ToolCall& out) {
    std::string_view s = trim_ws(inner);
    constexpr std::string_view kFn = "<function=", kFnEnd = "</function>", kParam = "<parameter=", kParamEnd = "</parameter>";
    if (s.substr(0, kFn.size()) != kFn) return false;
    size_t gt = s.find('>');
    if (gt == std::string_view::npos || gt == kFn.size()) return false;
    std::string name(trim_ws(s.substr(kFn.size(), gt - kFn.size())));
    if (name.empty()) return false;
    s.remove_prefix(gt + 1);
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    while (true) {
        s = trim_ws(s);
        if (s.substr(0, kFnEnd.size()) == kFnEnd) {
            if (!trim_ws(s.substr(kFnEnd.size())).empty()) return false;
            break;
        }
        if (s.substr(0, kParam.size()) != kParam) return false;
        size_t pgt = s.find('>');
        if (pgt == std::string_view::npos) return false;
        std::string key(trim_ws(s.substr(kParam.size(), pgt - kParam.size())));
        size_t end = s.find(kParamEnd, pgt + 1);
        if (key.empty() || end == std::string_view::npos) return false;
        std::string_view value = s.substr(pgt + 1, end - pgt - 1);
        if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
        if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
        auto j = nlohmann::ordered_json::parse(value.begin(), value.end(), nullptr, false);
        args[key] = (!j.is_discarded() && !j.is_string()) ? j : nlohmann::ordered_json(std::string(value));
        s.remove_prefix(end + kParamEnd.size());
    }
    out.name = std::move(name);
    out.arguments = args.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return true;
}

}  // namespace

StreamingToolCallParser::StreamingToolCallParser(ToolCallParseOptions opt) : opt_(std::move(opt)) {
    mode_ = opt_.parse_reasoning && opt_.reasoning_open_at_start ? Mode::Reasoning : Mode::Start;
}

StreamDelta StreamingToolCallParser::feed(std::string_view text) {
    if (mode_ == Mode::Done) return {};
    buf_.append(text);
    return step(false);
}

StreamDelta StreamingToolCallParser::finish() {
    if (mode_ == Mode::Done) return {};
    StreamDelta d = step(true);
    mode_ = Mode::Done;
    return d;
}

void StreamingToolCallParser::emit_text(StreamDelta& d, bool reasoning, std::string_view text, bool segment_end) {
    std::string out;
    if (!text.empty()) {
        if (segment_start_) {
            size_t b = 0;
            while (b < text.size() && is_ws(text[b])) ++b;
            text.remove_prefix(b);
        }
        if (!text.empty()) {
            segment_start_ = false;
            out = held_ws_ + std::string(text);
            held_ws_.clear();
            size_t e = out.size();
            while (e > 0 && is_ws(out[e - 1])) --e;
            held_ws_ = out.substr(e);
            out.resize(e);
        }
    }
    if (segment_end) held_ws_.clear();
    if (out.empty()) return;
    (reasoning ? d.reasoning_content : d.content) += out;
    (reasoning ? msg_.reasoning_content : msg_.content) += out;
}

bool StreamingToolCallParser::add_tool_calls(StreamDelta& d, std::string_view json_text, bool allow_list, bool allow_xml) {
    auto j = nlohmann::ordered_json::parse(json_text.begin(), json_text.end(), nullptr, false);
    std::vector<ToolCall> calls;
    if (j.is_discarded()) {
        ToolCall c;
        if (!allow_xml || !xml_function_call(json_text, c)) return false;
        j = nlohmann::ordered_json::object();  // handled below as the single call c
        calls.push_back(std::move(c));
    }
    if (!calls.empty()) {
        // XML form, parsed above
    } else if (j.is_array() && allow_list && !j.empty()) {
        for (const auto& e : j) {
            ToolCall c;
            if (!tool_call_from_json(e, c)) return false;
            calls.push_back(std::move(c));
        }
    } else {
        ToolCall c;
        if (!tool_call_from_json(j, c)) return false;
        calls.push_back(std::move(c));
    }
    for (auto& c : calls) {
        size_t index = msg_.tool_calls.size();
        c.id = opt_.id_prefix + std::to_string(index);
        msg_.tool_calls.push_back(c);
        d.tool_calls.push_back(ToolCallDelta{index, std::move(c)});
    }
    return true;
}

StreamDelta StreamingToolCallParser::step(bool final) {
    StreamDelta d;
    while (true) {
        switch (mode_) {
            case Mode::Done: return d;
            case Mode::Start: {
                size_t b = 0;
                while (b < buf_.size() && is_ws(buf_[b])) ++b;
                if (b == buf_.size()) {
                    if (final) buf_.clear();
                    return d;
                }
                std::string_view rest(buf_.data() + b, buf_.size() - b);
                if (opt_.parse_reasoning) {
                    if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
                        buf_.erase(0, b + kThinkOpen.size());
                        mode_ = Mode::Reasoning;
                        segment_start_ = true;
                        continue;
                    }
                    if (!final && rest.size() < kThinkOpen.size() && kThinkOpen.substr(0, rest.size()) == rest) return d;
                }
                mode_ = Mode::Content;
                segment_start_ = true;
                continue;
            }
            case Mode::Reasoning: {
                size_t pos = buf_.find(kThinkClose);
                if (pos != std::string::npos) {
                    emit_text(d, true, std::string_view(buf_).substr(0, pos), true);
                    buf_.erase(0, pos + kThinkClose.size());
                    mode_ = Mode::Content;
                    segment_start_ = true;
                    continue;
                }
                size_t keep = final ? 0 : partial_tag_suffix(buf_, kThinkClose);
                emit_text(d, true, std::string_view(buf_).substr(0, buf_.size() - keep), final);
                buf_.erase(0, buf_.size() - keep);
                if (final) mode_ = Mode::Done;
                return d;
            }
            case Mode::Content: {
                if (segment_start_ && opt_.allow_plain_json && opt_.parse_tool_calls && msg_.content.empty() &&
                    msg_.tool_calls.empty() && !plain_json_tried_) {
                    size_t b = 0;
                    while (b < buf_.size() && is_ws(buf_[b])) ++b;
                    if (b == buf_.size()) {
                        if (final) buf_.clear();
                        return d;
                    }
                    if (buf_[b] == '{' || buf_[b] == '[') {
                        buf_.erase(0, b);
                        mode_ = Mode::PlainJson;
                        continue;
                    }
                }
                size_t pos = opt_.parse_tool_calls ? buf_.find(kCallOpen) : std::string::npos;
                if (pos != std::string::npos) {
                    emit_text(d, false, std::string_view(buf_).substr(0, pos), true);
                    buf_.erase(0, pos + kCallOpen.size());
                    mode_ = Mode::ToolCall;
                    continue;
                }
                size_t keep = (final || !opt_.parse_tool_calls) ? 0 : partial_tag_suffix(buf_, kCallOpen);
                emit_text(d, false, std::string_view(buf_).substr(0, buf_.size() - keep), final);
                buf_.erase(0, buf_.size() - keep);
                if (final) mode_ = Mode::Done;
                return d;
            }
            case Mode::ToolCall: {
                size_t pos = buf_.find(kCallClose);
                if (pos == std::string::npos && !final) return d;
                std::string inner = buf_.substr(0, pos == std::string::npos ? buf_.size() : pos);
                if (!add_tool_calls(d, inner, true, true)) {  // not a tool call after all: keep the text
                    segment_start_ = false;
                    std::string raw = std::string(kCallOpen) + inner + (pos == std::string::npos ? "" : std::string(kCallClose));
                    emit_text(d, false, raw, false);
                }
                buf_.erase(0, pos == std::string::npos ? buf_.size() : pos + kCallClose.size());
                mode_ = Mode::Content;
                segment_start_ = true;
                continue;
            }
            case Mode::PlainJson: {
                size_t end = json_value_end(buf_);
                if (end == std::string::npos && !final) return d;
                plain_json_tried_ = true;
                if (end != std::string::npos && add_tool_calls(d, std::string_view(buf_).substr(0, end), true, false)) {
                    buf_.erase(0, end);
                    segment_start_ = true;
                }
                mode_ = Mode::Content;
                continue;
            }
        }
    }
}

bool prompt_opens_reasoning(std::string_view prompt) {
    prompt = trim_ws(prompt);
    size_t open = prompt.rfind(kThinkOpen);
    return open != std::string_view::npos && prompt.find(kThinkClose, open) == std::string_view::npos &&
           trim_ws(prompt.substr(open + kThinkOpen.size())).empty();
}

ParsedMessage parse_model_output(std::string_view text, const ToolCallParseOptions& opt) {
    StreamingToolCallParser p(opt);
    p.feed(text);
    p.finish();
    return p.message();
}

}  // namespace hearth::chat
