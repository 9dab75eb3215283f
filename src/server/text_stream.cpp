// UTF-8 boundary handling and stop-string hold-back for streamed generation (see text_stream.h).
#include "server/text_stream.h"

#include <algorithm>

namespace hearth::server {

namespace {

// Length of the sequence a lead byte announces (0: not a lead byte).
int utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Second-byte constraints that exclude overlongs, surrogates and > U+10FFFF.
bool second_ok(unsigned char lead, unsigned char b) {
    if (!is_cont(b)) return false;
    if (lead == 0xE0) return b >= 0xA0;
    if (lead == 0xED) return b <= 0x9F;
    if (lead == 0xF0) return b >= 0x90;
    if (lead == 0xF4) return b <= 0x8F;
    return true;
}

}  // namespace

std::string utf8_sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = s[i];
        int n = utf8_len(c);
        bool ok = n > 0 && i + n <= s.size();
        if (ok && n >= 2) ok = second_ok(c, s[i + 1]);
        for (int k = 2; ok && k < n; ++k) ok = is_cont(s[i + k]);
        if (ok) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
            while (i < s.size() && is_cont(s[i])) ++i;  // swallow the rest of the broken sequence
        }
    }
    return out;
}

size_t utf8_incomplete_tail(std::string_view s) {
    size_t n = s.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        unsigned char c = s[n - back];
        if (is_cont(c)) continue;
        int need = utf8_len(c);
        if (need <= 1) return 0;
        if (static_cast<size_t>(need) <= back) return 0;  // complete
        if (back >= 2 && !second_ok(c, s[n - back + 1])) return 0;  // already invalid: emit it
        return back;
    }
    return 0;
}

std::string TextStream::push(std::string_view piece) {
    if (stopped_) return {};
    pending_.append(piece);
    // Earliest full stop-string match ends generation.
    size_t best = std::string::npos;
    for (const auto& s : stop_) {
        size_t p = pending_.find(s);
        if (p != std::string::npos && p < best) {
            best = p;
            matched_ = s;
        }
    }
    if (best != std::string::npos) {
        stopped_ = true;
        std::string out = utf8_sanitize(std::string_view(pending_).substr(0, best));
        pending_.clear();
        return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    size_t hold = 0;
    for (const auto& s : stop_) {
        size_t max_k = std::min(s.size() - 1, pending_.size());
        for (size_t k = max_k; k > hold; --k) {
            if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
                hold = k;
                break;
            }
        }
    }
    std::string_view emit_part = std::string_view(pending_).substr(0, pending_.size() - hold);
    size_t incomplete = utf8_incomplete_tail(emit_part);
    size_t n_emit = emit_part.size() - incomplete;
    std::string out = utf8_sanitize(std::string_view(pending_).substr(0, n_emit));
    pending_.erase(0, n_emit);
    return out;
}

std::string TextStream::flush() {
    if (stopped_) return {};
    std::string out = utf8_sanitize(pending_);
    pending_.clear();
    return out;
}

}  // namespace hearth::server
