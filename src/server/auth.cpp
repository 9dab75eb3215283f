// API key storage, extraction from headers and constant-time comparison (see auth.h).
#include "server/auth.h"

#include <cctype>
#include <fstream>

#include "core/error.h"

namespace hearth::server {

static std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    // Walk the longer length every time; a length mismatch is folded into the result.
    size_t n = a.size() > b.size() ? a.size() : b.size();
    volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff = diff | static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

void ApiKeys::add_list(std::string_view list) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view k = trim(list.substr(0, comma));
        if (!k.empty()) keys_.emplace_back(k);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

void ApiKeys::add_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(ErrorKind::Io, "cannot read --api-key-file '" + path + "'");
    std::string line;
    while (std::getline(in, line)) {
        std::string_view k = trim(line);
        if (k.empty() || k.front() == '#') continue;
        keys_.emplace_back(k);
    }
}

bool ApiKeys::check(std::string_view presented) const {
    if (presented.empty()) return false;
    bool ok = false;
    for (const auto& k : keys_) ok = constant_time_equals(k, presented) || ok;  // no short-circuit on ok
    return ok;
}

std::string presented_key(const std::string& authorization, const std::string& x_api_key) {
    std::string_view a = trim(authorization);
    if (a.size() > 7) {
        std::string scheme(a.substr(0, 7));
        for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (scheme == "bearer ") return std::string(trim(a.substr(7)));
    }
    return std::string(trim(x_api_key));
}

}  // namespace hearth::server
