// Parsing of the placement options: memory sizes (--vram-budget, --device-free), device names
// (--device), per-tensor overrides (-ot REGEX=DEVICE) and KV cache types (-ctk/-ctv).
// Every malformed value throws Error(InvalidArgument) quoting it.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "backend/placement/placement.h"
#include "core/error.h"

namespace hearth::placement {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

// libstdc++'s std::regex reads back-reference numbers (\N) and {m,n} counts into a long without an
// overflow check (undefined behaviour for a long digit run): refuse numbers above 100000 there (a
// count that large is beyond std::regex's state limit anyway).
void check_regex_numbers(const std::string& pattern) {
    bool in_brace = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        const bool backref = c == '\\' && i + 1 < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[i + 1]));
        if (c == '\\' && !backref) {
            ++i;  // an escaped character
            continue;
        }
        if (c == '{') in_brace = true;
        if (c == '}') in_brace = false;
        if (!backref && !(in_brace && std::isdigit(static_cast<unsigned char>(c)))) continue;
        const size_t start = backref ? i + 1 : i;
        size_t j = start;
        uint64_t v = 0;
        for (; j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j])); ++j)
            v = std::min<uint64_t>(v * 10 + uint64_t(pattern[j] - '0'), 1000000);
        if (v > 100000)
            throw Error(ErrorKind::InvalidArgument, "tensor override pattern '" + pattern + "': the number " +
                                                        pattern.substr(start, std::min<size_t>(j - start, 24)) +
                                                        " (a repeat count or back-reference) is too large");
        i = j - 1;
    }
}

[[noreturn]] void bad_size(std::string_view text, const std::string& why) {
    throw Error(ErrorKind::InvalidArgument,
                "invalid size '" + std::string(text) + "': " + why + " (examples: 11.5GiB, 800MiB, 12G, 4096)");
}

}  // namespace

std::string DeviceId::name() const { return kind == Kind::Cpu ? "cpu" : "cuda" + std::to_string(index); }

uint64_t parse_size(std::string_view text) {
    const std::string s = trim(text);
    if (s.empty()) bad_size(text, "empty");
    // Number part: digits with at most one '.', no sign, no exponent.
    size_t i = 0;
    bool dot = false, digits = false;
    for (; i < s.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(s[i]))) digits = true;
        else if (s[i] == '.' && !dot) dot = true;
        else break;
    }
    if (!digits) bad_size(text, "it does not start with a number");
    const std::string number = s.substr(0, i);
    const std::string unit = lower(trim(std::string_view(s).substr(i)));

    struct Unit {
        const char* name;
        double factor;
    };
    static constexpr std::array<Unit, 14> kUnits = {{
        {"", 1.0}, {"b", 1.0},
        {"k", 1024.0}, {"kib", 1024.0}, {"m", 1048576.0}, {"mib", 1048576.0},
        {"g", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0}, {"tib", 1099511627776.0},
        {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
    }};
    double factor = 0;
    for (const Unit& u : kUnits)
        if (unit == u.name) factor = u.factor;
    if (factor == 0) bad_size(text, "unknown unit '" + unit + "'");

    const double value = std::strtod(number.c_str(), nullptr) * factor;
    if (!std::isfinite(value) || value >= 9.2e18) bad_size(text, "too large");
    if (factor == 1.0 && dot) bad_size(text, "a byte count must be a whole number");
    return uint64_t(std::floor(value));
}

std::string format_size(uint64_t bytes) {
    static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
    char buf[48];
    if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    else std::snprintf(buf, sizeof buf, "%.1f %s", v, kNames[u]);
    return buf;
}

DeviceId parse_device(std::string_view text) {
    const std::string s = lower(trim(text));
    if (s == "cpu") return DeviceId{DeviceId::Kind::Cpu, 0};
    if (s.size() > 4 && s.compare(0, 4, "cuda") == 0 && s.size() <= 7) {
        bool ok = true;
        for (size_t i = 4; i < s.size(); ++i) ok = ok && std::isdigit(static_cast<unsigned char>(s[i]));
        if (ok) return DeviceId{DeviceId::Kind::Cuda, std::stoi(s.substr(4))};
    }
    throw Error(ErrorKind::InvalidArgument,
                "unknown device '" + std::string(text) + "' (expected cpu or cudaN, e.g. cuda0)");
}

std::vector<DeviceId> parse_device_list(std::string_view text) {
    const std::string s = lower(trim(text));
    if (s == "none") return {};
    if (s.empty()) throw Error(ErrorKind::InvalidArgument, "--device needs a value: none, cpu or cudaN");
    std::vector<DeviceId> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = std::min(s.find(',', start), s.size());
        const DeviceId d = parse_device(std::string_view(s).substr(start, comma - start));
        for (const DeviceId& e : out)
            if (e == d) throw Error(ErrorKind::InvalidArgument, "device '" + d.name() + "' is listed twice");
        out.push_back(d);
        start = comma + 1;
    }
    return out;
}

std::vector<TensorOverride> parse_overrides(std::string_view text) {
    std::vector<TensorOverride> out;
    size_t start = 0;
    const std::string s(text);
    while (start <= s.size()) {
        const size_t comma = std::min(s.find(',', start), s.size());
        const std::string rule = s.substr(start, comma - start);
        const size_t eq = rule.rfind('=');
        if (eq == std::string::npos)
            throw Error(ErrorKind::InvalidArgument, "tensor override '" + rule + "' must be REGEX=DEVICE");
        const std::string pattern = rule.substr(0, eq);
        if (pattern.empty())
            throw Error(ErrorKind::InvalidArgument, "tensor override '" + rule + "' has an empty pattern");
        TensorOverride o;
        o.pattern_text = pattern;
        check_regex_numbers(pattern);
        try {
            o.pattern = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            throw Error(ErrorKind::InvalidArgument,
                        "tensor override pattern '" + pattern + "' is not a valid regex: " + e.what());
        }
        o.device = parse_device(rule.substr(eq + 1));
        out.push_back(std::move(o));
        start = comma + 1;
    }
    return out;
}

DType parse_kv_type(std::string_view text) {
    static constexpr std::array<DType, 9> kAllowed = {DType::F32,  DType::F16,  DType::BF16,
                                                      DType::Q8_0, DType::Q4_0, DType::Q4_1,
                                                      DType::Q5_0, DType::Q5_1, DType::IQ4_NL};
    const std::optional<DType> t = dtype_from_name(trim(text));
    if (t)
        for (DType a : kAllowed)
            if (a == *t) return a;
    std::string names;
    for (DType a : kAllowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(a);
    throw Error(ErrorKind::InvalidArgument,
                "unsupported KV cache type '" + std::string(text) + "' (supported: " + names + ")");
}

}  // namespace hearth::placement
