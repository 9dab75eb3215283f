// Chat prompt construction and assistant-output parsing for the server: renders the model's (or
// --chat-template-file's) Jinja chat template over validated OpenAI messages, and extracts tool
// calls from generated text (Hermes/Qwen <tool_call>{json}</tool_call> blocks, or a bare
// {"name":..,"arguments":..} object) into OpenAI tool_calls.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hearth::server {

struct ChatFormatter {
    std::string template_source;  // Jinja source; ChatML when the model has none
    std::string bos_token, eos_token;

    // Renders messages (+ tools, chat_template_kwargs). add_generation_prompt is false when the last
    // message is an assistant turn to continue (prefill). Throws ApiError 400 on template errors.
    std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                       const nlohmann::ordered_json& kwargs) const;
};

// The fallback template for models without tokenizer.chat_template, by architecture: Gemma's turn
// format for gemma*, ChatML otherwise.
const char* chatml_template();
const char* fallback_template(const std::string& architecture);

struct ParsedAssistant {
    std::string content;              // text outside tool-call blocks (trimmed)
    nlohmann::json tool_calls = nlohmann::json::array();  // [{id, type:"function", function:{name, arguments}}]
};

// Finds tool calls naming one of `tools` (an OpenAI tools array); text is left as content when
// nothing parses.
ParsedAssistant parse_assistant_output(const std::string& text, const nlohmann::ordered_json& tools);

}  // namespace hearth::server
