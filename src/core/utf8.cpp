// UTF-8 validation, sanitizing and code point conversion (see utf8.h). Validation follows the
// Unicode "well-formed byte sequences" table (no overlongs, no surrogates, max U+10FFFF).
#include "core/utf8.h"

#include "core/error.h"

namespace hearth::utf8 {

size_t valid_length(std::string_view s, size_t i) {
    const size_t n = s.size();
    const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    const uint8_t c0 = b(i);
    if (c0 < 0x80) return 1;
    const auto cont = [&](size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
    if (c0 >= 0xC2 && c0 <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c0 >= 0xE0 && c0 <= 0xEF) {
        if (i + 1 >= n) return 0;
        const uint8_t c1 = b(i + 1);
        // E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates).
        const uint8_t lo = c0 == 0xE0 ? 0xA0 : 0x80;
        const uint8_t hi = c0 == 0xED ? 0x9F : 0xBF;
        if (c1 < lo || c1 > hi) return 0;
        return cont(i + 2) ? 3 : 0;
    }
    if (c0 >= 0xF0 && c0 <= 0xF4) {
        if (i + 1 >= n) return 0;
        const uint8_t c1 = b(i + 1);
        // F0 needs 90..BF (no overlong), F4 needs 80..8F (<= U+10FFFF).
        const uint8_t lo = c0 == 0xF0 ? 0x90 : 0x80;
        const uint8_t hi = c0 == 0xF4 ? 0x8F : 0xBF;
        if (c1 < lo || c1 > hi) return 0;
        return cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    return 0;
}

bool is_valid(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t len = valid_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::string sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const size_t len = valid_length(s, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            i += 1;
        } else {
            out.append(s.data() + i, len);
            i += len;
        }
    }
    return out;
}

size_t incomplete_tail(std::string_view s) {
    const size_t n = s.size();
    for (size_t k = 1; k <= 3 && k <= n; ++k) {
        const auto b = static_cast<uint8_t>(s[n - k]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        const size_t need = (b >= 0xC2 && b <= 0xDF)   ? 2
                            : (b >= 0xE0 && b <= 0xEF) ? 3
                            : (b >= 0xF0 && b <= 0xF4) ? 4
                                                       : 0;
        return need > k ? k : 0;
    }
    return 0;
}

uint32_t next(std::string_view s, size_t& i) {
    const size_t len = valid_length(s, i);
    HEARTH_ASSERT_MSG(len != 0, "utf8::next on an invalid sequence (sanitize first)");
    const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k])); };
    uint32_t cp = 0;
    switch (len) {
        case 1:
            cp = b(0);
            break;
        case 2:
            cp = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
            break;
        case 3:
            cp = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
            break;
        default:
            cp = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
            break;
    }
    i += len;
    return cp;
}

void append(std::string& out, uint32_t cp) {
    HEARTH_ASSERT(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
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

}  // namespace hearth::utf8
