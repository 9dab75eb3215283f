// libFuzzer target: parses and renders arbitrary bytes as a Jinja template (with a chat-like
// context) under tight limits; any outcome but a value or hearth::Error is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/jinja.h"
#include "core/error.h"

namespace {

const hearth::jinja::Value& context() {
    static const hearth::jinja::Value ctx = hearth::jinja::Value::from_json(nlohmann::ordered_json::parse(R"({
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi <b>"},
                     {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                      "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
                     {"role": "tool", "tool_call_id": "c1", "content": "{\"r\": 1}"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "n": 3, "x": -1.5
    })"));
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 8192) return 0;
    std::string source(reinterpret_cast<const char*>(data), size);
    hearth::jinja::RenderOptions opt;
    opt.max_steps = 200000;
    opt.max_output = 1 << 20;
    opt.max_depth = 200;
    opt.fixed_time = 0;
    try {
        auto tmpl = hearth::jinja::parse_template(source);
        hearth::jinja::render(*tmpl, context(), opt);
        opt.immutable = false;  // the mutation paths (append/pop/update) too
        hearth::jinja::render(*tmpl, context(), opt);
    } catch (const hearth::Error&) {
    }
    return 0;
}
