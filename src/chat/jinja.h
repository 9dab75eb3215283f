// Public entry points of hearth's Jinja engine: parse a template once, render it many times with a
// context of values, under limits (steps, output size, call depth) so hostile templates end in an
// Error instead of a hang. Semantics follow Python jinja2 as Hugging Face's apply_chat_template
// configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "chat/jinja_value.h"

namespace hearth::jinja {

struct RenderOptions {
    uint64_t max_steps = 20'000'000;     // expression/statement evaluations before giving up
    size_t max_output = 16u << 20;       // bytes of rendered text (each captured block too)
    int max_depth = 400;                 // nested evaluation depth (macro recursion included)
    bool immutable = true;               // list.append / dict.pop ... raise, as in HF's sandbox
    bool html_safe_tojson = false;       // stock jinja2 tojson (escape <>&'); HF's tojson does not
    int64_t fixed_time = -1;             // strftime_now uses this Unix time when >= 0 (tests)
};

// Renders `tmpl` with the variables of `context` (an object; anything else is an empty context).
// Throws hearth::Error: InvalidArgument for template errors (message has line:column) and for
// raise_exception(), Unsupported for features hearth leaves out.
std::string render(const Template& tmpl, const Value& context, const RenderOptions& opt = {});

// Convenience: parse (HF lexer options) and render in one call.
std::string render_string(const std::string& source, const Value& context, const RenderOptions& opt = {});

}  // namespace hearth::jinja
