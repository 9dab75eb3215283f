// Jinja built-in globals (range, dict, namespace, raise_exception, strftime_now) and the Python
// methods templates call on values: str (strip/split/format/...), dict (items/get/...), list.
// Mutating methods raise, as in Hugging Face's ImmutableSandboxedEnvironment, unless allowed.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "chat/jinja_format.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_text.h"
#include "core/error.h"

namespace hearth::jinja {
namespace {

std::string s_arg(Interpreter& in, CallArgs& a, size_t i, const char* what) {
    const Value* v = find_arg(a, i, nullptr);
    if (!v || !v->is_string()) in.fail(std::string(what) + " expects a string argument");
    return v->str();
}

// One `{...}` replacement field of str.format: [[fill]align][sign][0][width][.precision][type].
std::string format_field(Interpreter& in, const Value& v, const std::string& spec) {
    if (spec.empty()) return python_str(v);
    size_t i = 0;
    char fill = ' ', align = '\0';
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (spec.size() >= 2 && is_align(spec[1])) {
        fill = spec[0];
        align = spec[1];
        i = 2;
    } else if (is_align(spec[0])) {
        align = spec[0];
        i = 1;
    }
    std::string sign;
    if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
    if (i < spec.size() && spec[i] == '0') {
        fill = '0';
        if (!align) align = '=';
        ++i;
    }
    int width = 0, prec = -1;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])) && width < 100000) width = width * 10 + (spec[i++] - '0');
    if (i < spec.size() && spec[i] == '.') {
        prec = 0;
        ++i;
        while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])) && prec < 1000) prec = prec * 10 + (spec[i++] - '0');
    }
    char type = i < spec.size() ? spec[i++] : '\0';
    if (i != spec.size()) in.fail("invalid format specifier '" + spec + "'");
    std::string body;
    char buf[1200];
    if (type == 'd' || (type == '\0' && v.is_int())) {
        if (!v.is_number()) in.fail("format code 'd' needs a number");
        body = std::to_string(v.as_int());
    } else if (type == 'f' || type == 'F' || type == 'e' || type == 'g' || type == '%') {
        if (!v.is_number()) in.fail(std::string("format code '") + type + "' needs a number");
        double x = v.as_float() * (type == '%' ? 100.0 : 1.0);
        std::snprintf(buf, sizeof buf, (std::string("%.*") + (type == '%' ? 'f' : type)).c_str(), prec < 0 ? 6 : std::min(prec, 100), x);
        body = buf;
        if (type == '%') body += '%';
    } else {
        body = python_str(v);
        if (prec >= 0) {
            std::vector<uint32_t> cps = utf8_decode(body);
            body = utf8_encode(cps, 0, std::min(cps.size(), static_cast<size_t>(prec)));
        }
    }
    if (v.is_number() && sign == "+" && !body.empty() && body[0] != '-') body = "+" + body;
    size_t len = utf8_length(body);
    if (static_cast<size_t>(width) <= len) return body;
    size_t pad = static_cast<size_t>(width) - len;
    if (!align) align = v.is_number() ? '>' : '<';
    if (align == '<') return body + std::string(pad, fill);
    if (align == '>') return std::string(pad, fill) + body;
    if (align == '^') return std::string(pad / 2, fill) + body + std::string(pad - pad / 2, fill);
    size_t signlen = (!body.empty() && (body[0] == '-' || body[0] == '+')) ? 1 : 0;
    return body.substr(0, signlen) + std::string(pad, fill) + body.substr(signlen);
}

Value str_format(Interpreter& in, const std::string& fmt, CallArgs& a) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
            else in.fail("Single '}' encountered in format string");
            out += '}';
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t close = fmt.find('}', i);
        if (close == std::string::npos) in.fail("Single '{' encountered in format string");
        std::string field = fmt.substr(i + 1, close - i - 1);
        i = close;
        std::string spec;
        if (size_t colon = field.find(':'); colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field.resize(colon);
        }
        bool repr = false;
        if (size_t bang = field.find('!'); bang != std::string::npos) {
            repr = field.substr(bang + 1) == "r";
            field.resize(bang);
        }
        Value v;
        if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
            size_t idx = field.empty() ? auto_index++ : static_cast<size_t>(std::atoi(field.substr(0, 9).c_str()));
            if (idx >= a.positional.size()) in.fail("Replacement index " + std::to_string(idx) + " out of range for positional args tuple");
            v = a.positional[idx];
        } else {
            const Value* kv = find_arg(a, SIZE_MAX, field.c_str());
            if (!kv) in.fail("format: missing keyword argument '" + field + "'");
            v = *kv;
        }
        out += repr ? python_repr(v) : format_field(in, v, spec);
        if (out.size() > in.options().max_output) in.fail("format result too large");
    }
    return Value(std::move(out));
}

[[noreturn]] void unsafe(Interpreter& in, const std::string& name, const Value& obj) {
    in.fail("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
}

Value string_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
    const std::string& s = self.str();
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        const Value* chars = find_arg(a, 0, nullptr);
        std::string c = chars && chars->is_string() ? chars->str() : std::string();
        bool use = chars && !chars->is_none();
        if (use && !chars->is_string()) in.fail(name + " arg must be None or str");
        return Value(text::strip(s, use ? &c : nullptr, name == "strip" ? 3 : name == "lstrip" ? 1 : 2));
    }
    if (name == "split" || name == "rsplit") {
        const Value* sep = find_arg(a, 0, "sep");
        int64_t maxsplit = arg_or(a, 1, "maxsplit", Value(int64_t{-1})).as_int();
        std::vector<std::string> parts;
        if (sep && !sep->is_none()) {
            if (!sep->is_string()) in.fail("must be str or None");
            if (sep->str().empty()) in.fail("empty separator");
            parts = text::split(s, &sep->str(), maxsplit, name == "rsplit");
        } else {
            parts = text::split(s, nullptr, maxsplit, name == "rsplit");
        }
        std::vector<Value> out(parts.begin(), parts.end());
        return Value::array(std::move(out));
    }
    if (name == "splitlines") {
        auto lines = text::splitlines(s, arg_or(a, 0, "keepends", Value(false)).truthy());
        return Value::array(std::vector<Value>(lines.begin(), lines.end()));
    }
    if (name == "startswith" || name == "endswith") {
        const Value* p = find_arg(a, 0, nullptr);
        if (!p) in.fail(name + " takes at least 1 argument");
        std::vector<Value> cands = p->is_array() ? p->arr().items : std::vector<Value>{*p};
        for (const Value& c : cands) {
            if (!c.is_string()) in.fail(name + " first arg must be str or a tuple of str");
            const std::string& x = c.str();
            if (x.size() <= s.size() &&
                (name == "startswith" ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0))
                return Value(true);
        }
        return Value(false);
    }
    if (name == "upper") return Value(text::upper(s));
    if (name == "lower") return Value(text::lower(s));
    if (name == "title") return Value(text::py_title(s));
    if (name == "capitalize") return Value(text::capitalize(s));
    if (name == "replace") {
        int64_t count = arg_or(a, 2, "count", Value(int64_t{-1})).as_int();
        return Value(text::replace(s, s_arg(in, a, 0, "replace"), s_arg(in, a, 1, "replace"), count));
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
        int64_t r = text::find(s, s_arg(in, a, 0, name.c_str()), name[0] == 'r');
        if (r < 0 && (name == "index" || name == "rindex")) in.fail("substring not found");
        return Value(r);
    }
    if (name == "count") return Value(text::count(s, s_arg(in, a, 0, "count")));
    if (name == "join") {
        const Value* it = find_arg(a, 0, nullptr);
        if (!it) in.fail("join takes exactly one argument");
        std::string out;
        bool first = true;
        for (const Value& x : in.iterate(*it)) {
            if (!x.is_string()) in.fail(std::string("sequence item: expected str instance, ") + x.type_name() + " found");
            if (!first) out += s;
            first = false;
            out += x.str();
            if (out.size() > in.options().max_output) in.fail("join result too large");
        }
        return Value(std::move(out));
    }
    if (name == "format") return str_format(in, s, a);
    if (name == "removeprefix" || name == "removesuffix") {
        std::string x = s_arg(in, a, 0, name.c_str());
        if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
        if (name == "removesuffix" && x.size() <= s.size() && !x.empty() && s.compare(s.size() - x.size(), x.size(), x) == 0)
            return Value(s.substr(0, s.size() - x.size()));
        return self;
    }
    auto all_cp = [&](auto pred) {
        std::vector<uint32_t> cps = utf8_decode(s);
        return Value(!cps.empty() && std::all_of(cps.begin(), cps.end(), pred));
    };
    if (name == "isdigit") return all_cp([](uint32_t c) { return c >= '0' && c <= '9'; });
    if (name == "isspace") return all_cp([](uint32_t c) { return text::is_space(c); });
    if (name == "isalpha") return all_cp([](uint32_t c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; });
    if (name == "isalnum")
        return all_cp([](uint32_t c) { return ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9'); });
    if (name == "isupper") return Value(text::upper(s) == s && text::lower(s) != s);
    if (name == "islower") return Value(text::lower(s) == s && text::upper(s) != s);
    HEARTH_ASSERT_MSG(false, "string method table out of sync");
}

Value dict_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
    Object& o = self.obj();
    for (const Value& v : a.positional) {
        if (value_reaches(v, &o)) in.fail("refusing to create a reference cycle");
        if (v.is_array() || v.is_object()) in.count_link();
    }
    for (const auto& [k, v] : a.keywords) {
        if (value_reaches(v, &o)) in.fail("refusing to create a reference cycle");
        if (v.is_array() || v.is_object()) in.count_link();
    }
    if (name == "items") {
        std::vector<Value> out;
        for (const auto& [k, v] : o.entries) out.push_back(Value::array({o.key_value(k), v}, true));
        return Value::array(std::move(out));
    }
    if (name == "keys") {
        std::vector<Value> out;
        for (const auto& [k, v] : o.entries) out.push_back(o.key_value(k));
        return Value::array(std::move(out));
    }
    if (name == "values") {
        std::vector<Value> out;
        for (const auto& [k, v] : o.entries) out.push_back(v);
        return Value::array(std::move(out));
    }
    if (name == "get") {
        const Value* key = find_arg(a, 0, nullptr);
        if (!key) in.fail("get expected at least 1 argument, got 0");
        if (key->is_string())
            if (const Value* v = o.find(key->str())) return *v;
        return arg_or(a, 1, nullptr, Value::none());
    }
    if (name == "copy") {
        Value c = Value::object();
        c.obj().entries = o.entries;
        c.obj().index = o.index;
        c.obj().typed_keys = o.typed_keys;
        return c;
    }
    if (in.options().immutable) unsafe(in, name, self);
    if (name == "pop") {
        const Value* key = find_arg(a, 0, nullptr);
        if (!key || !key->is_string()) in.fail("pop expects a string key");
        if (const Value* v = o.find(key->str())) {
            Value r = *v;
            o.erase(key->str());
            return r;
        }
        if (const Value* d = find_arg(a, 1, nullptr)) return *d;
        in.fail("KeyError: " + python_repr(*key));
    }
    if (name == "update") {
        if (const Value* other = find_arg(a, 0, nullptr); other && other->is_object())
            for (const auto& [k, v] : other->obj().entries) o.set(k, v);
        for (auto& [k, v] : a.keywords) o.set(k, v);
        return Value::none();
    }
    if (name == "setdefault") {
        std::string key = s_arg(in, a, 0, "setdefault");
        if (const Value* v = o.find(key)) return *v;
        Value d = arg_or(a, 1, nullptr, Value::none());
        o.set(key, d);
        return d;
    }
    HEARTH_ASSERT_MSG(false, "dict method table out of sync");
}

Value list_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
    auto& items = self.arr().items;
    for (const Value& v : a.positional) {
        if (value_reaches(v, &self.arr())) in.fail("refusing to create a reference cycle");
        if (v.is_array() || v.is_object()) in.count_link();
        if (value_depth(v) + 1 > kMaxValueDepth) in.fail("value nested too deeply");
        self.arr().depth = std::max(self.arr().depth, value_depth(v) + 1);
    }
    if (name == "index" || name == "count") {
        const Value* x = find_arg(a, 0, nullptr);
        if (!x) in.fail(name + " takes exactly one argument");
        int64_t n = 0;
        for (size_t i = 0; i < items.size(); ++i) {
            if (!values_equal(items[i], *x)) continue;
            if (name == "index") return Value(static_cast<int64_t>(i));
            ++n;
        }
        if (name == "index") in.fail(python_repr(*x) + " is not in list");
        return Value(n);
    }
    if (in.options().immutable || self.arr().is_tuple) unsafe(in, name, self);
    if (name == "append") {
        const Value* x = find_arg(a, 0, nullptr);
        if (!x) in.fail("append takes exactly one argument");
        if (items.size() >= in.options().max_output) in.fail("list too large");
        items.push_back(*x);
        return Value::none();
    }
    if (name == "pop") {
        if (items.empty()) in.fail("pop from empty list");
        int64_t i = arg_or(a, 0, nullptr, Value(int64_t{-1})).as_int();
        const int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) in.fail("pop index out of range");
        Value r = items[static_cast<size_t>(i)];
        items.erase(items.begin() + i);
        return r;
    }
    if (name == "extend") {
        const Value* x = find_arg(a, 0, nullptr);
        if (!x) in.fail("extend takes exactly one argument");
        for (const Value& v : in.iterate(*x)) items.push_back(v);
        return Value::none();
    }
    if (name == "insert") {
        int64_t i = arg_or(a, 0, nullptr, Value(int64_t{0})).as_int();
        const int64_t n = static_cast<int64_t>(items.size());
        i = std::clamp<int64_t>(i < 0 ? i + n : i, 0, n);
        items.insert(items.begin() + i, arg_or(a, 1, nullptr, Value::none()));
        return Value::none();
    }
    HEARTH_ASSERT_MSG(false, "list method table out of sync");
}

bool is_string_method(const std::string& n) {
    static const char* const names[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
                                        "endswith", "upper", "lower", "title", "capitalize", "replace", "find", "rfind",
                                        "index", "rindex", "count", "join", "format", "removeprefix", "removesuffix",
                                        "isdigit", "isspace", "isalpha", "isalnum", "isupper", "islower"};
    return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

bool is_dict_method(const std::string& n) {
    return n == "items" || n == "keys" || n == "values" || n == "get" || n == "copy" || n == "pop" || n == "update" ||
           n == "setdefault" || n == "clear" || n == "popitem";
}

bool is_list_method(const std::string& n) {
    return n == "index" || n == "count" || n == "append" || n == "pop" || n == "extend" || n == "insert" ||
           n == "remove" || n == "reverse" || n == "sort" || n == "clear";
}

}  // namespace

Value Interpreter::method(const Value& obj, const std::string& name) {
    using Impl = Value (*)(Interpreter&, const Value&, const std::string&, CallArgs&);
    Impl impl = nullptr;
    if (obj.is_string() && is_string_method(name)) impl = string_method;
    else if (obj.is_object() && !obj.obj().is_namespace && is_dict_method(name)) impl = dict_method;
    else if (obj.is_array() && is_list_method(name)) impl = list_method;
    if (!impl) return Value::undefined();
    const bool mutator = (impl == dict_method && !(name == "items" || name == "keys" || name == "values" || name == "get" || name == "copy")) ||
                         (impl == list_method && !(name == "index" || name == "count"));
    if (mutator && options().immutable)  // the sandbox's "unsafe" undefined: prints empty, raises when called
        return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
    return Value::function(name, [impl, obj, name](Interpreter& in, CallArgs& a) -> Value {
        if (name == "clear" || name == "popitem" || name == "remove" || name == "reverse" || name == "sort")
            in.fail("'" + name + "' is not implemented for " + obj.type_name() + " objects");
        return impl(in, obj, name, a);
    });
}

Value Interpreter::make_globals() {
    Value g = Value::object();
    Object& o = g.obj();
    o.set("range", Value::function("range", [](Interpreter& in, CallArgs& a) -> Value {
              std::vector<int64_t> p;
              for (const Value& v : a.positional) {
                  if (!v.is_int() && !v.is_bool()) in.fail(std::string("'") + v.type_name() + "' object cannot be interpreted as an integer");
                  p.push_back(v.as_int());
              }
              if (p.empty() || p.size() > 3) in.fail("range expected 1 to 3 arguments");
              int64_t start = p.size() == 1 ? 0 : p[0], stop = p.size() == 1 ? p[0] : p[1], step = p.size() == 3 ? p[2] : 1;
              if (step == 0) in.fail("range() arg 3 must not be zero");
              std::vector<Value> out;
              for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                  if (out.size() >= 100000) in.fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
                  out.emplace_back(i);
                  if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) break;
              }
              return Value::array(std::move(out));
          }));
    auto make_dict = [](bool ns) {
        return [ns](Interpreter& in, CallArgs& a) -> Value {
            if (ns) in.count_link();
            Value d = ns ? Value::namespace_object() : Value::object();
            for (const Value& v : a.positional) {
                if (!v.is_object()) in.fail("dict() positional argument must be a mapping");
                for (const auto& [k, x] : v.obj().entries) d.obj().set(k, x);
            }
            for (auto& [k, x] : a.keywords) d.obj().set(k, x);
            return d;
        };
    };
    o.set("dict", Value::function("dict", make_dict(false)));
    o.set("namespace", Value::function("namespace", make_dict(true)));
    o.set("raise_exception", Value::function("raise_exception", [](Interpreter& in, CallArgs& a) -> Value {
              in.fail(a.positional.empty() ? std::string("raise_exception called") : python_str(a.positional[0]));
          }));
    o.set("strftime_now", Value::function("strftime_now", [](Interpreter& in, CallArgs& a) -> Value {
              std::string fmt = a.positional.empty() ? std::string() : python_str(a.positional[0]);
              if (fmt.size() > 256) in.fail("strftime_now: format too long");
              std::time_t t = in.options().fixed_time >= 0 ? static_cast<std::time_t>(in.options().fixed_time) : std::time(nullptr);
              std::tm tm{};
              localtime_r(&t, &tm);
              char buf[4096];
              size_t n = fmt.empty() ? 0 : std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
              return Value(std::string(buf, n));
          }));
    return g;
}

}  // namespace hearth::jinja
