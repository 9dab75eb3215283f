// Internal to src/gguf: a bounds-checked little-endian cursor over untrusted GGUF bytes, plus the
// parser's size limits. Every read checks the bytes left first; every failure throws InvalidFile
// with the current context (the key or tensor being read) and the byte offset.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace hearth::gguf::detail {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

// Limits applied before any allocation (a file may claim anything; these bound what we believe).
inline constexpr uint64_t kMaxKeyBytes = 65535;            // GGUF spec: keys are < 2^16 bytes
inline constexpr uint64_t kMaxTensorNameBytes = 256;       // spec says 64; allow some slack
inline constexpr uint64_t kMaxStringBytes = 64ull << 20;   // one string value (chat templates ~100 KiB)
inline constexpr uint64_t kMaxKvCount = 1ull << 20;
inline constexpr uint64_t kMaxTensorCount = 1ull << 20;
inline constexpr uint64_t kMaxArrayElems = 1ull << 26;     // token arrays are ~10^5..10^6
// Smallest encodings, used to bound counts by the bytes remaining in the file.
inline constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // key length, type, 1-byte value
inline constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name len, n_dims, ne0, type, offset

class Cursor {
public:
    Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }
    // What is being read now, e.g. "key 'general.name'" or "tensor 'output.weight'".
    void set_context(std::string context) { context_ = std::move(context); }
    const std::string& context() const { return context_; }

    [[noreturn]] void fail_at(uint64_t offset, const std::string& message) const {
        throw Error(ErrorKind::InvalidFile,
                    "gguf: " + context_ + ": " + message + " (at byte offset " + std::to_string(offset) + ")");
    }
    [[noreturn]] void fail(const std::string& message) const { fail_at(pos_, message); }

    void need(uint64_t n, const char* what) const {
        if (n > remaining())
            fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes but only " +
                 std::to_string(remaining()) + " remain");
    }

    template <typename T>
    T read(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    uint8_t u8(const char* what) { return read<uint8_t>(what); }
    uint32_t u32(const char* what) { return read<uint32_t>(what); }
    uint64_t u64(const char* what) { return read<uint64_t>(what); }

    std::string_view bytes(uint64_t n, const char* what) {
        need(n, what);
        std::string_view out(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
        pos_ += n;
        return out;
    }

    // A GGUF string: u64 length then that many bytes. The length is checked against max_bytes and
    // against the bytes left before anything is copied.
    std::string_view string(uint64_t max_bytes, const char* what) {
        const uint64_t start = pos_;
        const uint64_t n = u64(what);
        if (n > max_bytes)
            fail_at(start, std::string(what) + " length " + std::to_string(n) + " exceeds the limit of " +
                               std::to_string(max_bytes) + " bytes");
        if (n > remaining())
            fail_at(start, std::string(what) + " length " + std::to_string(n) + " exceeds the " +
                               std::to_string(remaining()) + " bytes left in the file");
        return bytes(n, what);
    }

private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    std::string context_ = "header";
};

}  // namespace hearth::gguf::detail
