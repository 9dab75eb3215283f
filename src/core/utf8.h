// UTF-8 helpers shared by the GGUF reader and the tokenizers: length of a sequence from its lead
// byte, strict validation (Unicode's well-formed table), replacement of each invalid byte by
// U+FFFD, and code point encode/decode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::utf8 {

constexpr uint32_t kReplacement = 0xFFFD;

// Length in bytes of a well-formed sequence starting at s[i] (1..4), or 0 when the bytes at i do
// not start a valid sequence (bad lead byte, bad continuation, overlong, surrogate, > U+10FFFF,
// or truncated at the end of s).
size_t valid_length(std::string_view s, size_t i);

// True when the whole string is well-formed UTF-8.
bool is_valid(std::string_view s);

// Copy of s where every byte that does not belong to a well-formed sequence is replaced by
// U+FFFD (EF BF BD), one replacement per invalid byte. Valid input is returned unchanged.
std::string sanitize(std::string_view s);

// Number of bytes (0-3) at the end of s that begin a multi-byte sequence still missing its
// continuation bytes. A streaming detokenizer holds them back until the next piece arrives
// (byte-fallback and byte-level tokens can split one character across several tokens).
size_t incomplete_tail(std::string_view s);

// Decodes the code point at s[i] (which must start a valid sequence, e.g. after sanitize()) and
// advances i past it.
uint32_t next(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of cp (cp must be <= 0x10FFFF and not a surrogate).
void append(std::string& out, uint32_t cp);

}  // namespace hearth::utf8
