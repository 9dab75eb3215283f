// API-key authentication: keys from --api-key (comma separated) and --api-key-file (one per line),
// the presented key read from "Authorization: Bearer K" or "X-Api-Key: K", and a comparison whose
// time does not depend on where (or whether) the strings differ.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// Equal strings -> true; the time taken depends only on the lengths, not on the contents.
bool constant_time_equals(std::string_view a, std::string_view b);

class ApiKeys {
public:
    ApiKeys() = default;
    // Adds "K1,K2" (empty entries ignored).
    void add_list(std::string_view comma_separated);
    // Adds one key per non-empty line (# comments and surrounding spaces ignored); throws
    // hearth::Error(Io) when the file cannot be read.
    void add_file(const std::string& path);

    bool enabled() const { return !keys_.empty(); }
    size_t size() const { return keys_.size(); }
    // Checks the presented key against every configured key (no early exit).
    bool check(std::string_view presented) const;

private:
    std::vector<std::string> keys_;
};

// The key a request presents: "Bearer K" from Authorization (scheme case-insensitive), else the
// X-Api-Key header value; "" when neither is there.
std::string presented_key(const std::string& authorization, const std::string& x_api_key);

}  // namespace hearth::server
