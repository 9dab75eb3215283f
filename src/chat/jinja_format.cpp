// Python-compatible printing of Jinja values (str/repr/json.dumps) and UTF-8 code-point helpers.
#include "chat/jinja_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace hearth::jinja {

// ---- UTF-8 ---------------------------------------------------------------------------------------

bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

std::vector<uint32_t> utf8_decode(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        bool ok = true;
        for (int k = 1; k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
            if ((cc & 0xC0) != 0x80) {
                ok = false;
                break;
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (!ok) {
            out.push_back(0xFFFD);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += static_cast<size_t>(len);
    }
    return out;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
    std::string out;
    for (size_t i = begin; i < end && i < cps.size(); ++i) utf8_append(out, cps[i]);
    return out;
}

size_t utf8_length(std::string_view s) {
    if (is_ascii(s)) return s.size();
    return utf8_decode(s).size();
}

// ---- numbers -------------------------------------------------------------------------------------

std::string python_float_repr(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
    char buf[64];
    for (int prec = 0; prec < 17; ++prec) {  // shortest %e form that reads back exactly
        std::snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    // buf = [-]d[.ddd]e[+-]XX
    std::string s(buf);
    bool neg = s[0] == '-';
    if (neg) s.erase(0, 1);
    size_t epos = s.find('e');
    int exp = std::atoi(s.c_str() + epos + 1);
    std::string digits;
    for (size_t i = 0; i < epos; ++i)
        if (s[i] != '.') digits += s[i];
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = neg ? "-" : "";
    if (exp >= -5 + 1 && exp < 16) {  // Python repr uses fixed notation for 1e-4 <= |v| < 1e16
        if (exp >= 0) {
            std::string d = digits;
            if (d.size() < static_cast<size_t>(exp) + 1) d.append(static_cast<size_t>(exp) + 1 - d.size(), '0');
            out += d.substr(0, static_cast<size_t>(exp) + 1);
            std::string frac = d.substr(static_cast<size_t>(exp) + 1);
            out += "." + (frac.empty() ? std::string("0") : frac);
        } else {
            out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + eb;
}

// ---- repr / str ----------------------------------------------------------------------------------

static bool python_printable(uint32_t cp) {
    if (cp < 0x20 || cp == 0x7F) return false;
    if (cp >= 0x80 && cp <= 0xA0) return false;
    if (cp == 0xAD) return false;
    if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F))
        return false;
    if (cp == 0x3000 || cp == 0xFEFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0xFFF9 && cp <= 0xFFFB))
        return false;
    if (cp >= 0xE000 && cp <= 0xF8FF) return false;  // private use
    return true;
}

std::string python_repr_string(std::string_view s) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char q = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, q);
    for (uint32_t cp : utf8_decode(s)) {
        if (cp == static_cast<uint32_t>(q) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (!python_printable(cp)) {
            char b[16];
            if (cp < 0x100) std::snprintf(b, sizeof b, "\\x%02x", cp);
            else if (cp < 0x10000) std::snprintf(b, sizeof b, "\\u%04x", cp);
            else std::snprintf(b, sizeof b, "\\U%08x", cp);
            out += b;
        } else {
            utf8_append(out, cp);
        }
    }
    out += q;
    return out;
}

static std::string repr_at(const Value& v, int depth);

std::string python_repr(const Value& v) { return repr_at(v, 0); }

static std::string repr_at(const Value& v, int depth) {
    using K = Value::Kind;
    if (depth > 512) throw Error(ErrorKind::InvalidArgument, "template: value nested too deeply to print");
    switch (v.kind()) {
        case K::Undefined: return "Undefined";
        case K::String: return python_repr_string(v.str());
        case K::Array: {
            const auto& a = v.arr();
            std::string out = a.is_tuple ? "(" : "[";
            for (size_t i = 0; i < a.items.size(); ++i) {
                if (i) out += ", ";
                out += repr_at(a.items[i], depth + 1);
            }
            if (a.is_tuple && a.items.size() == 1) out += ",";
            return out + (a.is_tuple ? ")" : "]");
        }
        case K::Object: {
            std::string out = v.obj().is_namespace ? "<Namespace {" : "{";
            bool first = true;
            for (const auto& [k, e] : v.obj().entries) {
                if (!first) out += ", ";
                first = false;
                out += repr_at(v.obj().key_value(k), depth + 1) + ": " + repr_at(e, depth + 1);
            }
            return out + (v.obj().is_namespace ? "}>" : "}");
        }
        default: return python_str(v);
    }
}

std::string python_str(const Value& v) {
    using K = Value::Kind;
    switch (v.kind()) {
        case K::Undefined: return "";
        case K::None: return "None";
        case K::Bool: return v.as_bool() ? "True" : "False";
        case K::Int: return std::to_string(v.as_int());
        case K::Float: return python_float_repr(v.as_float());
        case K::String: return v.str();
        case K::Function: return "<function " + v.fn().name + ">";
        default: return python_repr(v);
    }
}

// ---- json.dumps ----------------------------------------------------------------------------------

static void json_string(std::string& out, std::string_view s, const JsonDumpOptions& opt) {
    out += '"';
    auto esc = [&](uint32_t cp) {
        char b[16];
        std::snprintf(b, sizeof b, "\\u%04x", cp);
        out += b;
    };
    for (uint32_t cp : utf8_decode(s)) {
        switch (cp) {
            case '"': out += "\\\""; continue;
            case '\\': out += "\\\\"; continue;
            case '\n': out += "\\n"; continue;
            case '\r': out += "\\r"; continue;
            case '\t': out += "\\t"; continue;
            case '\b': out += "\\b"; continue;
            case '\f': out += "\\f"; continue;
            default: break;
        }
        if (opt.html_safe && (cp == '<' || cp == '>' || cp == '&' || cp == '\'')) {
            esc(cp);
        } else if (cp < 0x20) {
            esc(cp);
        } else if (opt.ensure_ascii && cp >= 0x7F) {
            if (cp == 0x7F) {
                out += static_cast<char>(cp);
            } else if (cp >= 0x10000) {
                uint32_t c = cp - 0x10000;
                esc(0xD800 | (c >> 10));
                esc(0xDC00 | (c & 0x3FF));
            } else {
                esc(cp);
            }
        } else {
            utf8_append(out, cp);
        }
    }
    out += '"';
}

static void json_value(std::string& out, const Value& v, const JsonDumpOptions& opt, int depth) {
    using K = Value::Kind;
    if (depth > 512) throw Error(ErrorKind::InvalidArgument, "template: tojson: value nested too deeply");
    const bool pretty = opt.indent >= 0;
    const std::string item_sep = opt.has_separators ? opt.item_separator : (pretty ? "," : ", ");
    const std::string key_sep = opt.has_separators ? opt.key_separator : ": ";
    auto newline = [&](int level) {
        out += '\n';
        out.append(static_cast<size_t>(opt.indent) * static_cast<size_t>(level), ' ');
    };
    switch (v.kind()) {
        case K::None: out += "null"; return;
        case K::Bool: out += v.as_bool() ? "true" : "false"; return;
        case K::Int: out += std::to_string(v.as_int()); return;
        case K::Float: {
            double f = v.as_float();
            if (std::isnan(f)) out += "NaN";
            else if (std::isinf(f)) out += f > 0 ? "Infinity" : "-Infinity";
            else out += python_float_repr(f);
            return;
        }
        case K::String: json_string(out, v.str(), opt); return;
        case K::Array: {
            const auto& items = v.arr().items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                if (pretty) newline(depth + 1);
                json_value(out, items[i], opt, depth + 1);
            }
            if (pretty) newline(depth);
            out += ']';
            return;
        }
        case K::Object: {
            if (v.obj().is_namespace)
                throw Error(ErrorKind::InvalidArgument, "template: object of type Namespace is not JSON serializable");
            std::vector<const std::pair<std::string, Value>*> entries;
            for (const auto& e : v.obj().entries) entries.push_back(&e);
            if (entries.empty()) {
                out += "{}";
                return;
            }
            if (opt.sort_keys)
                std::stable_sort(entries.begin(), entries.end(),
                                 [](auto* a, auto* b) { return a->first < b->first; });
            out += '{';
            for (size_t i = 0; i < entries.size(); ++i) {
                if (i) out += item_sep;
                if (pretty) newline(depth + 1);
                json_string(out, entries[i]->first, opt);
                out += key_sep;
                json_value(out, entries[i]->second, opt, depth + 1);
            }
            if (pretty) newline(depth);
            out += '}';
            return;
        }
        default:
            throw Error(ErrorKind::InvalidArgument,
                        std::string("template: object of type ") + v.type_name() + " is not JSON serializable");
    }
}

std::string json_dumps(const Value& v, const JsonDumpOptions& opt) {
    std::string out;
    json_value(out, v, opt, 0);
    return out;
}

}  // namespace hearth::jinja
