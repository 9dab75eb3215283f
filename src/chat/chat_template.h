// Chat formatting for the server: renders a model's Hugging Face chat template (Jinja) over an
// OpenAI-style conversation, with the same variables apply_chat_template passes (messages, tools,
// add_generation_prompt, bos/eos tokens, chat_template_kwargs such as enable_thinking).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hearth::chat {

// JSON fields are nlohmann::ordered_json so object key order (e.g. of a tool's parameters) reaches
// the template as the client sent it, as in Python; a plain nlohmann::json converts implicitly,
// but its keys arrive sorted — parse requests with ordered_json to keep the client's order.
struct ChatTemplateInputs {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role":..,"content":..}, ...]
    nlohmann::ordered_json tools;          // OpenAI function definitions; null/empty: `tools` is None
    bool add_generation_prompt = true;
    nlohmann::ordered_json extra_context;  // object merged into the context (chat_template_kwargs)
    std::string bos_token, eos_token;
};

// Parses (cached per source text) and renders. Throws hearth::Error: InvalidArgument for template
// syntax/runtime errors and when the template calls raise_exception (message included).
std::string render_chat_template(const std::string& template_source, const ChatTemplateInputs& in);

// The Jinja context render_chat_template uses (exposed for tests and the `hearth template` tool).
nlohmann::ordered_json chat_template_context(const ChatTemplateInputs& in);

}  // namespace hearth::chat
