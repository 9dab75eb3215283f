// Turns generated token pieces into text that is safe to send: never splits a UTF-8 character
// across two deltas, replaces invalid UTF-8 with U+FFFD, and holds back any tail that could be the
// start of a stop string, so a stop string never reaches the client and the deltas concatenate
// to exactly the final text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// Valid UTF-8 copy of `s`: each invalid or truncated sequence becomes U+FFFD.
std::string utf8_sanitize(std::string_view s);
// Bytes at the end of `s` that form an incomplete (but so far valid) UTF-8 sequence (0..3).
size_t utf8_incomplete_tail(std::string_view s);

class TextStream {
public:
    explicit TextStream(std::vector<std::string> stop = {}) : stop_(std::move(stop)) {}

    // Appends a piece; returns the text that may be emitted now (possibly empty). After a stop
    // string matched, returns the text before it and stopped() becomes true; later calls return "".
    std::string push(std::string_view piece);
    // End of generation: the held-back text (never contains a full stop string).
    std::string flush();

    bool stopped() const { return stopped_; }
    const std::string& matched_stop() const { return matched_; }

private:
    std::vector<std::string> stop_;
    std::string pending_;
    bool stopped_ = false;
    std::string matched_;
};

}  // namespace hearth::server
