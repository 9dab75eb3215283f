// Python str operations on UTF-8 text, per code point (see jinja_text.h).
#include "chat/jinja_text.h"

#include <set>

#include "chat/jinja_format.h"

namespace hearth::jinja::text {

bool is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

static uint32_t to_upper(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

static uint32_t to_lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static bool is_cased(uint32_t c) { return to_upper(c) != c || to_lower(c) != c; }

template <typename F>
static std::string map_cps(std::string_view s, F f) {
    std::string out;
    out.reserve(s.size());
    for (uint32_t cp : utf8_decode(s)) utf8_append(out, f(cp));
    return out;
}

std::string upper(std::string_view s) { return map_cps(s, to_upper); }
std::string lower(std::string_view s) { return map_cps(s, to_lower); }

std::string capitalize(std::string_view s) {
    bool first = true;
    return map_cps(s, [&](uint32_t c) {
        uint32_t r = first ? to_upper(c) : to_lower(c);
        first = false;
        return r;
    });
}

std::string py_title(std::string_view s) {
    bool prev_cased = false;
    return map_cps(s, [&](uint32_t c) {
        uint32_t r = prev_cased ? to_lower(c) : to_upper(c);
        prev_cased = is_cased(c);
        return r;
    });
}

std::string jinja_title(std::string_view s) {
    bool at_start = true;
    return map_cps(s, [&](uint32_t c) {
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
        uint32_t r = sep ? c : (at_start ? to_upper(c) : to_lower(c));
        at_start = sep;
        return r;
    });
}

std::string strip(std::string_view s, const std::string* chars, int which) {
    std::vector<uint32_t> cps = utf8_decode(s);
    std::set<uint32_t> set;
    if (chars)
        for (uint32_t c : utf8_decode(*chars)) set.insert(c);
    auto strip_it = [&](uint32_t c) { return chars ? set.count(c) > 0 : is_space(c); };
    size_t b = 0, e = cps.size();
    if (which & 1)
        while (b < e && strip_it(cps[b])) ++b;
    if (which & 2)
        while (e > b && strip_it(cps[e - 1])) --e;
    return utf8_encode(cps, b, e);
}

std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit, bool from_right) {
    std::vector<std::string> parts;
    if (sep) {
        if (!from_right) {
            size_t pos = 0;
            while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
                size_t hit = s.find(*sep, pos);
                if (hit == std::string_view::npos) break;
                parts.emplace_back(s.substr(pos, hit - pos));
                pos = hit + sep->size();
            }
            parts.emplace_back(s.substr(pos));
            return parts;
        }
        size_t end = s.size();
        int64_t splits = 0;
        while (maxsplit < 0 || splits < maxsplit) {
            if (end < sep->size()) break;
            size_t hit = s.rfind(*sep, end - sep->size());
            if (hit == std::string_view::npos) break;
            parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
            end = hit;
            ++splits;
        }
        parts.emplace_back(s.substr(0, end));
        return {parts.rbegin(), parts.rend()};
    }
    std::vector<uint32_t> cps = utf8_decode(s);
    if (!from_right) {
        size_t i = 0;
        const size_t n = cps.size();
        while (true) {
            while (i < n && is_space(cps[i])) ++i;
            if (i >= n) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
                size_t e = n;
                while (e > i && is_space(cps[e - 1])) --e;
                parts.push_back(utf8_encode(cps, i, e));
                break;
            }
            size_t b = i;
            while (i < n && !is_space(cps[i])) ++i;
            parts.push_back(utf8_encode(cps, b, i));
        }
        return parts;
    }
    size_t i = cps.size();
    while (true) {
        while (i > 0 && is_space(cps[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
            size_t b = 0;
            while (b < i && is_space(cps[b])) ++b;
            parts.push_back(utf8_encode(cps, b, i));
            break;
        }
        size_t e = i;
        while (i > 0 && !is_space(cps[i - 1])) --i;
        parts.push_back(utf8_encode(cps, i, e));
    }
    return {parts.rbegin(), parts.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
    std::vector<std::string> lines;
    std::vector<uint32_t> cps = utf8_decode(s);
    size_t b = 0, i = 0;
    while (i < cps.size()) {
        uint32_t c = cps[i];
        bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                   c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) {
            ++i;
            continue;
        }
        size_t e = i + ((c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1);
        lines.push_back(utf8_encode(cps, b, keepends ? e : i));
        b = i = e;
    }
    if (b < cps.size()) lines.push_back(utf8_encode(cps, b, cps.size()));
    return lines;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count) {
    std::string out;
    if (old.empty()) {  // Python inserts `with` before every code point and at the end
        std::vector<uint32_t> cps = utf8_decode(s);
        int64_t done = 0;
        for (uint32_t c : cps) {
            if (count < 0 || done < count) {
                out += with;
                ++done;
            }
            utf8_append(out, c);
        }
        if (count < 0 || done < count) out += with;
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t hit = s.find(old, pos);
        if (hit == std::string_view::npos) break;
        out += s.substr(pos, hit - pos);
        out += with;
        pos = hit + old.size();
        ++done;
    }
    out += s.substr(pos);
    return out;
}

int64_t count(std::string_view s, std::string_view sub) {
    if (sub.empty()) return static_cast<int64_t>(utf8_length(s)) + 1;
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
    return n;
}

int64_t find(std::string_view s, std::string_view sub, bool from_right) {
    size_t hit = from_right ? s.rfind(sub) : s.find(sub);
    if (hit == std::string_view::npos) return -1;
    return static_cast<int64_t>(utf8_length(s.substr(0, hit)));
}

}  // namespace hearth::jinja::text
