// Chat template rendering: builds apply_chat_template's context and renders it with hearth's Jinja
// engine; the last parsed template is cached since a server renders the same one every request.
#include "chat/chat_template.h"

#include <memory>
#include <mutex>

#include "chat/jinja.h"
#include "core/error.h"

namespace hearth::chat {

nlohmann::ordered_json chat_template_context(const ChatTemplateInputs& in) {
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    if (!in.messages.is_array())
        throw Error(ErrorKind::InvalidArgument, "chat template: 'messages' must be an array");
    ctx["messages"] = in.messages;
    const bool has_tools = (in.tools.is_array() && !in.tools.empty()) || in.tools.is_object();
    ctx["tools"] = has_tools ? in.tools : nlohmann::ordered_json(nullptr);
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = in.add_generation_prompt;
    ctx["bos_token"] = in.bos_token;
    ctx["eos_token"] = in.eos_token;
    if (in.extra_context.is_object())
        for (auto it = in.extra_context.begin(); it != in.extra_context.end(); ++it) ctx[it.key()] = it.value();
    else if (!in.extra_context.is_null())
        throw Error(ErrorKind::InvalidArgument, "chat template: chat_template_kwargs must be an object");
    return ctx;
}

std::string render_chat_template(const std::string& template_source, const ChatTemplateInputs& in) {
    static std::mutex mu;
    static std::string cached_source;
    static std::shared_ptr<const jinja::Template> cached;
    std::shared_ptr<const jinja::Template> tmpl;
    {
        std::lock_guard<std::mutex> lock(mu);
        if (!cached || cached_source != template_source) {
            cached = jinja::parse_template(template_source);
            cached_source = template_source;
        }
        tmpl = cached;
    }
    return jinja::render(*tmpl, jinja::Value::from_json(chat_template_context(in)));
}

}  // namespace hearth::chat
