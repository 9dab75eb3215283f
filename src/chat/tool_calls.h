// Parsing model output into an OpenAI-style assistant message: visible content, reasoning
// (`<think>...</think>`) and tool calls (Hermes/Qwen `<tool_call>{json}</tool_call>` blocks, the
// Qwen3-Coder `<tool_call><function=f><parameter=k>v</parameter></function></tool_call>` form, or a
// bare `{"name":..,"arguments":..}` / list of them). A streaming parser turns text deltas into
// content / reasoning / tool-call deltas and never lets a partial tag leak into content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat {

struct ToolCall {
    std::string id;         // "<id_prefix><index>"
    std::string name;
    std::string arguments;  // JSON text of the arguments object, as OpenAI's `arguments` field
};

struct ParsedMessage {
    std::string content;
    std::string reasoning_content;
    std::vector<ToolCall> tool_calls;
};

struct ToolCallParseOptions {
    bool parse_reasoning = true;       // split out <think>...</think> at the start of the output
    bool reasoning_open_at_start = false;  // the prompt already opened <think> (text before </think> is reasoning)
    bool parse_tool_calls = true;      // recognise <tool_call> blocks
    bool allow_plain_json = true;      // output that is only a JSON tool call (or a list) is a tool call
    std::string id_prefix = "call_";
};

// One streamed step: text to append to content / reasoning, and tool calls completed in this step
// (each carries its index in the message, id, name and full arguments).
struct ToolCallDelta {
    size_t index = 0;
    ToolCall call;
};
struct StreamDelta {
    std::string content;
    std::string reasoning_content;
    std::vector<ToolCallDelta> tool_calls;
    bool empty() const { return content.empty() && reasoning_content.empty() && tool_calls.empty(); }
};

class StreamingToolCallParser {
public:
    explicit StreamingToolCallParser(ToolCallParseOptions opt = {});
    StreamDelta feed(std::string_view text);  // the next piece of generated text
    StreamDelta finish();                      // generation ended: flush what was held back
    const ParsedMessage& message() const { return msg_; }  // all deltas so far, merged

private:
    enum class Mode { Start, Reasoning, Content, ToolCall, PlainJson, Done };
    StreamDelta step(bool final);
    void emit_text(StreamDelta& d, bool reasoning, std::string_view text, bool final);
    bool add_tool_calls(StreamDelta& d, std::string_view json_text, bool allow_list, bool allow_xml);

    ToolCallParseOptions opt_;
    Mode mode_;
    std::string buf_;       // accumulated text not yet consumed
    std::string held_ws_;   // trailing whitespace held until more text follows
    bool segment_start_ = true;  // drop whitespace at the start of a content/reasoning segment
    bool plain_json_tried_ = false;  // the output began with JSON that was checked once
    ParsedMessage msg_;
};

// True when a rendered prompt ends inside an open <think> (Qwen3 / DeepSeek-R1 generation prompts):
// pass the result as ToolCallParseOptions::reasoning_open_at_start.
bool prompt_opens_reasoning(std::string_view prompt);

// Whole-output convenience: feed + finish.
ParsedMessage parse_model_output(std::string_view text, const ToolCallParseOptions& opt = {});

}  // namespace hearth::chat
