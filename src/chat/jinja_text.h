// Python str semantics shared by Jinja filters and string methods: whitespace and case per code
// point, strip/split/replace/title, so `|trim`, `.split()` and friends match CPython's results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja::text {

bool is_space(uint32_t cp);  // str.isspace()
std::string upper(std::string_view s);  // ASCII and Latin-1/Greek/Cyrillic basic letters
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string py_title(std::string_view s);    // str.title(): word = run of cased letters
std::string jinja_title(std::string_view s); // jinja2's |title (words start after space - ( { [ <)
// strip chars (code points of `chars`); whitespace when chars == nullptr. which: 1 left, 2 right, 3 both.
std::string strip(std::string_view s, const std::string* chars, int which);
// str.split(sep, maxsplit) / str.rsplit; sep == nullptr splits on whitespace runs.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
int64_t count(std::string_view s, std::string_view sub);
int64_t find(std::string_view s, std::string_view sub, bool from_right);  // code-point index or -1

}  // namespace hearth::jinja::text
