// Python-compatible text forms of Jinja values: str() (what `{{ x }}` prints), repr() (used inside
// printed lists/dicts), json.dumps (the tojson filter) and float formatting; plus the UTF-8 helpers
// that give strings Python's code-point semantics for len/index/slice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.h"

namespace hearth::jinja {

std::string python_float_repr(double v);      // repr(float): shortest round-trip, 1.0, 1e+16, inf
std::string python_str(const Value& v);       // str(v); undefined prints as ""
std::string python_repr(const Value& v);      // repr(v)
std::string python_repr_string(std::string_view s);

struct JsonDumpOptions {
    int indent = -1;               // < 0: single line
    bool ensure_ascii = false;     // HF's tojson passes ensure_ascii=False
    std::string item_separator;    // empty: Python's default (", " or "," with indent)
    std::string key_separator;     // empty: ": "
    bool has_separators = false;
    bool sort_keys = false;
    bool html_safe = false;        // stock jinja2 tojson: escape < > & ' as \u003c ...
};
std::string json_dumps(const Value& v, const JsonDumpOptions& opt);  // throws for undefined/callables

// UTF-8 helpers: decode to code points (invalid bytes map to U+FFFD) and back.
std::vector<uint32_t> utf8_decode(std::string_view s);
void utf8_append(std::string& out, uint32_t cp);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);

}  // namespace hearth::jinja
