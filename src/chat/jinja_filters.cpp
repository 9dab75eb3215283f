// Jinja built-in filters (`x | name(args)`) and tests (`x is name`), with jinja2's semantics,
// including how each treats Undefined, and Hugging Face's tojson (json.dumps, ensure_ascii=False).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "chat/jinja_format.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_text.h"
#include "core/error.h"

namespace hearth::jinja {
namespace {

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);

std::string to_s(const Value& v) { return python_str(v); }  // undefined -> ""

std::string str_arg(Interpreter& in, CallArgs& a, size_t i, const char* name, const std::string& def) {
    const Value* v = find_arg(a, i, name);
    return v && !v->is_undefined() ? to_s(*v) : def;
}

int64_t int_arg(Interpreter& in, CallArgs& a, size_t i, const char* name, int64_t def) {
    const Value* v = find_arg(a, i, name);
    if (!v || v->is_undefined() || v->is_none()) return def;
    if (!v->is_number()) in.fail(std::string("expected an integer for argument '") + name + "'");
    return v->as_int();
}

bool bool_arg(CallArgs& a, size_t i, const char* name, bool def) {
    const Value* v = find_arg(a, i, name);
    return v ? v->truthy() : def;
}

// attribute path "a.b.0" as used by map/selectattr/sort/groupby
Value get_path(Interpreter& in, const Value& v, const std::string& path) {
    Value cur = v;
    size_t pos = 0;
    while (true) {
        size_t dot = path.find('.', pos);
        std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (cur.is_undefined()) return cur;
        cur = numeric && part.size() < 18 ? in.get_item(cur, Value(static_cast<int64_t>(std::atoll(part.c_str()))))
                                          : in.get_item(cur, Value(part));
        if (dot == std::string::npos) return cur;
        pos = dot + 1;
    }
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& a) {
    JsonDumpOptions o;
    if (in.options().html_safe_tojson) {
        o.html_safe = true;
        o.sort_keys = true;
        o.ensure_ascii = true;
    }
    const Value* ind = find_arg(a, 0, "indent");
    if (ind && ind->is_number()) o.indent = static_cast<int>(std::clamp<int64_t>(ind->as_int(), 0, 64));
    if (const Value* ea = find_arg(a, 99, "ensure_ascii")) o.ensure_ascii = ea->truthy();
    if (const Value* sk = find_arg(a, 99, "sort_keys")) o.sort_keys = sk->truthy();
    if (const Value* sep = find_arg(a, 99, "separators"); sep && sep->is_array()) {
        if (sep->arr().items.size() != 2) in.fail("tojson: separators must be a pair of strings");
        o.has_separators = true;
        o.item_separator = to_s(sep->arr().items[0]);
        o.key_separator = to_s(sep->arr().items[1]);
    }
    if (v.is_undefined()) in.fail("Object of type Undefined is not JSON serializable");
    return Value(json_dumps(v, o));
}

Value f_length(Interpreter& in, const Value& v, CallArgs&) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return Value(int64_t{0});
        case Value::Kind::String: return Value(static_cast<int64_t>(utf8_length(v.str())));
        case Value::Kind::Array: return Value(static_cast<int64_t>(v.arr().items.size()));
        case Value::Kind::Object:
            if (v.obj().is_namespace) break;
            return Value(static_cast<int64_t>(v.obj().entries.size()));
        default: break;
    }
    in.fail(std::string("object of type '") + v.type_name() + "' has no len()");
}

Value f_trim(Interpreter& in, const Value& v, CallArgs& a) {
    const Value* chars = find_arg(a, 0, "chars");
    const bool custom = chars && !chars->is_none() && !chars->is_undefined();
    std::string c = custom ? to_s(*chars) : std::string();
    return Value(text::strip(to_s(v), custom ? &c : nullptr, 3));
}

Value f_items(Interpreter& in, const Value& v, CallArgs&) {
    if (v.is_undefined()) return Value::array();
    if (!v.is_object() || v.obj().is_namespace) in.fail("can only get item pairs from a mapping");
    std::vector<Value> out;
    for (const auto& [k, e] : v.obj().entries) out.push_back(Value::array({v.obj().key_value(k), e}, true));
    return Value::array(std::move(out));
}

Value f_list(Interpreter& in, const Value& v, CallArgs&) { return Value::array(in.iterate(v)); }

Value f_string(Interpreter&, const Value& v, CallArgs&) { return Value(to_s(v)); }

Value f_upper(Interpreter&, const Value& v, CallArgs&) { return Value(text::upper(to_s(v))); }
Value f_lower(Interpreter&, const Value& v, CallArgs&) { return Value(text::lower(to_s(v))); }
Value f_title(Interpreter&, const Value& v, CallArgs&) { return Value(text::jinja_title(to_s(v))); }
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) { return Value(text::capitalize(to_s(v))); }
Value f_safe(Interpreter&, const Value& v, CallArgs&) { return Value::markup(to_s(v)); }

}  // namespace

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

namespace {

Value f_escape(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_markup()) return v;
    return Value::markup(html_escape(to_s(v)));
}

Value f_forceescape(Interpreter&, const Value& v, CallArgs&) {
    std::string out;
    for (char c : to_s(v)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return Value::markup(std::move(out));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
    const Value* old = find_arg(a, 0, "old");
    const Value* with = find_arg(a, 1, "new");
    if (!old || !with) in.fail("replace filter needs 'old' and 'new'");
    return Value(text::replace(to_s(v), to_s(*old), to_s(*with), int_arg(in, a, 2, "count", -1)));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
    Value def = arg_or(a, 0, "default_value", Value(std::string()));
    bool boolean = bool_arg(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return def;
    return v;
}

Value f_first(Interpreter& in, const Value& v, CallArgs&) {
    std::vector<Value> items = in.iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, const Value& v, CallArgs&) {
    std::vector<Value> items = in.iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
    std::string sep = str_arg(in, a, 0, "d", "");
    const Value* attr = find_arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += to_s(attr && !attr->is_none() ? get_path(in, item, to_s(*attr)) : item);
        if (out.size() > in.options().max_output) in.fail("join result too large");
    }
    return Value(std::move(out));
}

bool parse_python_int(const std::string& raw, int64_t base, int64_t& out) {
    std::string s = text::strip(raw, nullptr, 3);
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
            std::isalnum(static_cast<unsigned char>(s[i + 1])))
            continue;
        digits += s[i];
    }
    if (digits.empty()) return false;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
    if (errno || *end != '\0' || std::isspace(static_cast<unsigned char>(digits[0]))) return false;
    out = v;
    return true;
}

bool parse_python_float(const std::string& raw, double& out) {
    std::string s = text::strip(raw, nullptr, 3);
    if (s.empty()) return false;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (*end != '\0') return false;
    std::string l = text::lower(s);
    if (l.find("0x") != std::string::npos) return false;  // strtod reads hex floats, Python does not
    out = v;
    return true;
}

Value f_int(Interpreter& in, const Value& v, CallArgs& a) {
    Value def = arg_or(a, 0, "default", Value(int64_t{0}));
    int64_t base = int_arg(in, a, 1, "base", 10);
    if (base < 2 || base > 36) base = 10;
    if (v.is_number()) {
        if (v.is_float() && (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) >= 9.2e18)) return def;
        return Value(v.as_int());
    }
    if (v.is_string()) {
        int64_t i;
        if (parse_python_int(v.str(), base, i)) return Value(i);
        double d;
        if (parse_python_float(v.str(), d) && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
    }
    return def;
}

Value f_float(Interpreter& in, const Value& v, CallArgs& a) {
    Value def = arg_or(a, 0, "default", Value(0.0));
    if (v.is_number()) return Value(v.as_float());
    double d;
    if (v.is_string() && parse_python_float(v.str(), d)) return Value(d);
    return def;
}

Value f_abs(Interpreter& in, const Value& v, CallArgs&) {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_number()) {
        if (v.as_int() == INT64_MIN) in.fail("integer overflow");
        return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    in.fail(std::string("bad operand type for abs(): '") + v.type_name() + "'");
}

Value f_round(Interpreter& in, const Value& v, CallArgs& a) {
    if (!v.is_number()) in.fail(std::string("round: expected a number, got ") + v.type_name());
    int64_t prec = std::clamp<int64_t>(int_arg(in, a, 0, "precision", 0), -300, 300);
    std::string method = str_arg(in, a, 1, "method", "common");
    double x = v.as_float();
    if (method == "ceil" || method == "floor") {
        double m = std::pow(10.0, static_cast<double>(prec));
        return Value((method == "ceil" ? std::ceil(x * m) : std::floor(x * m)) / m);
    }
    if (method != "common") in.fail("method must be common, ceil or floor");
    if (!std::isfinite(x) || prec < 0) {
        double m = std::pow(10.0, static_cast<double>(-prec));
        return Value(std::isfinite(x) ? std::nearbyint(x / m) * m : x);
    }
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(prec, 60)), x);  // exact, half-even
    return Value(std::strtod(buf, nullptr));
}

// Comparison key for sort/unique/dictsort: strings lowered unless case-sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
    return (!case_sensitive && v.is_string()) ? Value(text::lower(v.str())) : v;
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    const Value* attr = find_arg(a, 1, "attribute");
    std::vector<Value> seen, out;
    for (const Value& item : in.iterate(v)) {
        in.step();
        Value key = sort_key(attr && !attr->is_none() ? get_path(in, item, to_s(*attr)) : item, cs);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); })) continue;
        seen.push_back(key);
        out.push_back(item);
    }
    return Value::array(std::move(out));
}

Value f_reverse(Interpreter& in, const Value& v, CallArgs&) {
    if (v.is_string()) {
        std::vector<uint32_t> cps = utf8_decode(v.str());
        std::reverse(cps.begin(), cps.end());
        return Value(utf8_encode(cps, 0, cps.size()));
    }
    std::vector<Value> items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
    bool rev = bool_arg(a, 0, "reverse", false);
    bool cs = bool_arg(a, 1, "case_sensitive", false);
    const Value* attr = find_arg(a, 2, "attribute");
    std::vector<Value> items = in.iterate(v);
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& item : items)
        keyed.emplace_back(sort_key(attr && !attr->is_none() ? get_path(in, item, to_s(*attr)) : item, cs), item);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        in.step();
        return rev ? values_compare(y.first, x.first) < 0 : values_compare(x.first, y.first) < 0;
    });
    std::vector<Value> out;
    for (auto& [k, item] : keyed) out.push_back(std::move(item));
    return Value::array(std::move(out));
}

Value f_dictsort(Interpreter& in, const Value& v, CallArgs& a) {
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    std::string by = str_arg(in, a, 1, "by", "key");
    bool rev = bool_arg(a, 2, "reverse", false);
    if (by != "key" && by != "value") in.fail("You can only sort by either 'key' or 'value'");
    std::vector<Value> pairs = f_items(in, v, a).arr().items;
    const size_t idx = by == "key" ? 0 : 1;
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
        in.step();
        int c = values_compare(sort_key(x.arr().items[idx], cs), sort_key(y.arr().items[idx], cs));
        return rev ? c > 0 : c < 0;
    });
    return Value::array(std::move(pairs));
}

Value f_batch(Interpreter& in, const Value& v, CallArgs& a) {
    int64_t n = int_arg(in, a, 0, "linecount", 1);
    if (n <= 0) in.fail("batch: linecount must be positive");
    const Value* fill = find_arg(a, 1, "fill_with");
    std::vector<Value> out, cur;
    for (const Value& item : in.iterate(v)) {
        cur.push_back(item);
        if (static_cast<int64_t>(cur.size()) == n) {
            out.push_back(Value::array(std::move(cur)));
            cur.clear();
        }
    }
    if (!cur.empty()) {
        if (fill && !fill->is_none())
            while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
        out.push_back(Value::array(std::move(cur)));
    }
    return Value::array(std::move(out));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
    const Value* w = find_arg(a, 0, "width");
    std::string ind = w && w->is_string() ? w->str() : std::string(static_cast<size_t>(std::clamp<int64_t>(w ? w->as_int() : 4, 0, 1000)), ' ');
    bool first = bool_arg(a, 1, "first", false);
    bool blank = bool_arg(a, 2, "blank", false);
    std::vector<std::string> lines = text::splitlines(to_s(v) + "\n", false);
    std::string rv;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) rv += "\n" + ((blank || !lines[i].empty()) ? ind : std::string());
        rv += lines[i];
    }
    if (first) rv = ind + rv;
    return Value(std::move(rv));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : to_s(v)) {
        bool w = std::isalnum(c) || c == '_' || c >= 0x80;
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value(n);
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
    std::string s = to_s(v);
    int64_t width = std::clamp<int64_t>(int_arg(in, a, 0, "width", 80), 0, 100000);
    int64_t len = static_cast<int64_t>(utf8_length(s));
    if (width <= len) return Value(s);
    int64_t total = width - len, left = total / 2 + (total & width & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
}

Value min_max(Interpreter& in, const Value& v, CallArgs& a, bool want_max) {
    bool cs = bool_arg(a, 0, "case_sensitive", false);
    const Value* attr = find_arg(a, 1, "attribute");
    std::vector<Value> items = in.iterate(v);
    if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
    size_t best = 0;
    auto key = [&](const Value& x) { return sort_key(attr && !attr->is_none() ? get_path(in, x, to_s(*attr)) : x, cs); };
    for (size_t i = 1; i < items.size(); ++i) {
        int c = values_compare(key(items[i]), key(items[best]));
        if (want_max ? c > 0 : c < 0) best = i;
    }
    return items[best];
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, false); }
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, true); }

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
    const Value* attr = find_arg(a, 0, "attribute");
    Value acc = arg_or(a, 1, "start", Value(int64_t{0}));
    for (const Value& item : in.iterate(v))
        acc = binary_op(in, "+", acc, attr && !attr->is_none() ? get_path(in, item, to_s(*attr)) : item);
    return acc;
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
    if (!a.keywords.empty() && a.positional.empty()) {
        Value d = Value::object();
        for (auto& [k, x] : a.keywords) d.obj().set(k, x);
        return binary_op(in, "%", Value(to_s(v)), d);
    }
    return binary_op(in, "%", Value(to_s(v)), Value::array(a.positional, true));
}

Value f_pprint(Interpreter&, const Value& v, CallArgs&) { return Value(python_repr(v)); }

Value f_truncate(Interpreter& in, const Value& v, CallArgs& a) {
    std::string s = to_s(v);
    int64_t length = std::max<int64_t>(int_arg(in, a, 0, "length", 255), 0);
    bool killwords = bool_arg(a, 1, "killwords", false);
    std::string end = str_arg(in, a, 2, "end", "...");
    int64_t leeway = int_arg(in, a, 3, "leeway", 5);
    std::vector<uint32_t> cps = utf8_decode(s);
    int64_t n = static_cast<int64_t>(cps.size()), elen = static_cast<int64_t>(utf8_length(end));
    if (n <= length + leeway) return Value(s);
    size_t cut = static_cast<size_t>(std::max<int64_t>(length - elen, 0));
    std::string head = utf8_encode(cps, 0, cut);
    if (!killwords) {
        size_t sp = head.rfind(' ');
        if (sp != std::string::npos) head.resize(sp);
    }
    return Value(head + end);
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute) passes the test.
Value select_impl(Interpreter& in, const Value& v, CallArgs& a, bool by_attr, bool keep_if) {
    if (!v.truthy()) return Value::array();  // jinja2 skips falsy input (None, "", [])
    size_t next = 0;
    std::string attr;
    if (by_attr) {
        if (a.positional.empty()) in.fail("selectattr/rejectattr need an attribute name");
        attr = to_s(a.positional[next++]);
    }
    std::string test;
    if (next < a.positional.size()) test = to_s(a.positional[next++]);
    CallArgs test_args;
    test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next), a.positional.end());
    if (!test.empty() && !in.has_test(test)) in.fail("no test named '" + test + "'");
    std::vector<Value> out;
    for (const Value& item : in.iterate(v)) {
        in.step();
        Value probe = by_attr ? get_path(in, item, attr) : item;
        CallArgs ta = test_args;
        bool ok = test.empty() ? probe.truthy() : in.apply_test(test, probe, ta);
        if (ok == keep_if) out.push_back(item);
    }
    return Value::array(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
    std::vector<Value> out;
    if (!v.truthy()) return Value::array();  // jinja2 skips falsy input
    if (const Value* attr = find_arg(a, 99, "attribute")) {
        const Value* def = find_arg(a, 99, "default");
        for (const Value& item : in.iterate(v)) {
            Value x = get_path(in, item, to_s(*attr));
            out.push_back(x.is_undefined() && def ? *def : x);
        }
        return Value::array(std::move(out));
    }
    if (a.positional.empty()) in.fail("map requires a filter name or attribute=");
    std::string filter = to_s(a.positional[0]);
    CallArgs rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.keywords = a.keywords;
    for (const Value& item : in.iterate(v)) {
        CallArgs fa = rest;
        out.push_back(in.apply_filter(filter, item, fa));
    }
    return Value::array(std::move(out));
}

const std::unordered_map<std::string, FilterFn>& filters() {
    static const std::unordered_map<std::string, FilterFn> table = {
        {"tojson", f_tojson},   {"length", f_length},       {"count", f_length},         {"trim", f_trim},
        {"items", f_items},     {"list", f_list},           {"string", f_string},        {"upper", f_upper},
        {"lower", f_lower},     {"title", f_title},         {"capitalize", f_capitalize}, {"safe", f_safe},
        {"e", f_escape},        {"escape", f_escape},       {"forceescape", f_forceescape},   {"replace", f_replace},
        {"default", f_default}, {"d", f_default},           {"first", f_first},          {"last", f_last},
        {"join", f_join},       {"int", f_int},             {"float", f_float},          {"abs", f_abs},
        {"round", f_round},     {"unique", f_unique},       {"reverse", f_reverse},      {"sort", f_sort},
        {"dictsort", f_dictsort}, {"batch", f_batch},       {"indent", f_indent},        {"wordcount", f_wordcount},
        {"center", f_center},   {"min", f_min},             {"max", f_max},              {"sum", f_sum},
        {"format", f_format},   {"pprint", f_pprint},       {"truncate", f_truncate},    {"select", f_select},
        {"reject", f_reject},   {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr}, {"map", f_map},
    };
    return table;
}

// ---- tests -----------------------------------------------------------------------------------------

const Value& test_arg(Interpreter& in, CallArgs& a, const char* test) {
    if (a.positional.empty()) in.fail(std::string("test '") + test + "' needs an argument");
    return a.positional[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs&) { return v.is_object() && !v.obj().is_namespace; }
bool t_iterable(Interpreter&, const Value& v, CallArgs&) {
    return v.is_undefined() || v.is_string() || v.is_array() || (v.is_object() && !v.obj().is_namespace);
}
bool t_callable(Interpreter&, const Value& v, CallArgs&) { return v.is_function(); }
bool t_escaped(Interpreter&, const Value&, CallArgs&) { return false; }
bool t_sameas(Interpreter& in, const Value& v, CallArgs& a) {
    const Value& o = test_arg(in, a, "sameas");
    if (v.kind() != o.kind()) return false;
    if (v.is_array()) return v.arr_ptr() == o.arr_ptr();
    if (v.is_object()) return v.obj_ptr() == o.obj_ptr();
    if (v.is_function()) return &v.fn() == &o.fn();
    return values_equal(v, o);
}
bool t_in(Interpreter& in, const Value& v, CallArgs& a) { return in.contains(test_arg(in, a, "in"), v); }
bool t_eq(Interpreter& in, const Value& v, CallArgs& a) { return values_equal(v, test_arg(in, a, "eq")); }
bool t_ne(Interpreter& in, const Value& v, CallArgs& a) { return !values_equal(v, test_arg(in, a, "ne")); }
int cmp_arg(Interpreter& in, const Value& v, CallArgs& a) {
    const Value& o = test_arg(in, a, "comparison");
    if (v.is_undefined()) raise_undefined(v);
    if (o.is_undefined()) raise_undefined(o);
    return values_compare(v, o);
}
bool t_lt(Interpreter& in, const Value& v, CallArgs& a) { return cmp_arg(in, v, a) < 0; }
bool t_le(Interpreter& in, const Value& v, CallArgs& a) { return cmp_arg(in, v, a) <= 0; }
bool t_gt(Interpreter& in, const Value& v, CallArgs& a) { return cmp_arg(in, v, a) > 0; }
bool t_ge(Interpreter& in, const Value& v, CallArgs& a) { return cmp_arg(in, v, a) >= 0; }
bool t_odd(Interpreter& in, const Value& v, CallArgs&) {
    if (!v.is_int() && !v.is_bool()) in.fail("odd test needs an integer");
    return (v.as_int() & 1) != 0;
}
bool t_even(Interpreter& in, const Value& v, CallArgs& a) { return !t_odd(in, v, a); }
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& a) {
    const Value& d = test_arg(in, a, "divisibleby");
    if (!v.is_number() || !d.is_number()) in.fail("divisibleby needs numbers");
    Value m = binary_op(in, "%", v, d);
    return m.as_float() == 0.0;
}
bool t_lowercase(Interpreter&, const Value& v, CallArgs&) {
    return v.is_string() && text::lower(v.str()) == v.str() && text::upper(v.str()) != v.str();
}
bool t_uppercase(Interpreter&, const Value& v, CallArgs&) {
    return v.is_string() && text::upper(v.str()) == v.str() && text::lower(v.str()) != v.str();
}

const std::unordered_map<std::string, TestFn>& tests() {
    static const std::unordered_map<std::string, TestFn> table = {
        {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none},         {"boolean", t_boolean},
        {"true", t_true},       {"false", t_false},         {"integer", t_integer},   {"float", t_float},
        {"number", t_number},   {"string", t_string},       {"mapping", t_mapping},   {"iterable", t_iterable},
        {"sequence", t_iterable}, {"callable", t_callable}, {"escaped", t_escaped},   {"sameas", t_sameas},
        {"in", t_in},           {"eq", t_eq},               {"equalto", t_eq},        {"==", t_eq},
        {"ne", t_ne},           {"!=", t_ne},               {"lt", t_lt},             {"lessthan", t_lt},
        {"<", t_lt},            {"le", t_le},               {"<=", t_le},             {"gt", t_gt},
        {"greaterthan", t_gt},  {">", t_gt},                {"ge", t_ge},             {">=", t_ge},
        {"odd", t_odd},         {"even", t_even},           {"divisibleby", t_divisibleby}, {"lower", t_lowercase},
        {"upper", t_uppercase},
    };
    return table;
}

}  // namespace

bool Interpreter::has_test(const std::string& name) const { return tests().count(name) > 0; }

Value Interpreter::apply_filter(const std::string& name, const Value& v, CallArgs& args) {
    auto it = filters().find(name);
    if (it == filters().end()) fail("no filter named '" + name + "'");
    return it->second(*this, v, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& v, CallArgs& args) {
    auto it = tests().find(name);
    if (it == tests().end()) fail("no test named '" + name + "'");
    return it->second(*this, v, args);
}

}  // namespace hearth::jinja
