// Test helper: builds GGUF byte strings by hand, including deliberately broken ones (wrong counts,
// lengths, types, offsets), for the reader's malformed-file suite. Independent of gguf::Writer so a
// writer bug cannot hide a reader bug.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace hearth::gguf::testing {

// Little-endian byte appender.
struct Bytes {
    std::vector<uint8_t> b;
    template <typename T>
    Bytes& pod(T v) {
        uint8_t tmp[sizeof(T)];
        std::memcpy(tmp, &v, sizeof(T));
        b.insert(b.end(), tmp, tmp + sizeof(T));
        return *this;
    }
    Bytes& u8(uint8_t v) { return pod(v); }
    Bytes& u32(uint32_t v) { return pod(v); }
    Bytes& u64(uint64_t v) { return pod(v); }
    Bytes& raw(const std::string& s) {
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Bytes& str(const std::string& s) { return u64(s.size()).raw(s); }
    Bytes& append(const Bytes& o) {
        b.insert(b.end(), o.b.begin(), o.b.end());
        return *this;
    }
};

// GGUF value type ids (as in the file).
enum : uint32_t { T_U8 = 0, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 };

struct RawKv {
    std::string key;
    uint32_t type;
    Bytes payload;  // the encoded value after the type id
};

struct RawTensor {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type = 0;  // F32
    uint64_t offset = 0;
    std::optional<uint32_t> n_dims_override;
};

inline RawKv kv_u32(const std::string& k, uint32_t v) { return {k, T_U32, Bytes().u32(v)}; }
inline RawKv kv_i32(const std::string& k, int32_t v) { return {k, T_I32, Bytes().pod(v)}; }
inline RawKv kv_f32(const std::string& k, float v) { return {k, T_F32, Bytes().pod(v)}; }
inline RawKv kv_str(const std::string& k, const std::string& v) { return {k, T_STR, Bytes().str(v)}; }

// A GGUF file description; build() lays it out exactly as the spec says unless overridden.
struct RawGguf {
    std::string magic = "GGUF";
    uint32_t version = 3;
    std::optional<uint64_t> n_tensors_override, n_kv_override;
    std::vector<RawKv> kvs;
    std::vector<RawTensor> tensors;
    uint64_t alignment = 32;  // used for padding only; add general.alignment to kvs to declare it
    uint64_t data_bytes = 0;  // size of the data section written after the padding

    Bytes header_and_infos() const {
        Bytes out;
        out.raw(magic).u32(version);
        out.u64(n_tensors_override.value_or(tensors.size()));
        out.u64(n_kv_override.value_or(kvs.size()));
        for (const auto& kv : kvs) out.str(kv.key).u32(kv.type).append(kv.payload);
        for (const auto& t : tensors) {
            out.str(t.name).u32(t.n_dims_override.value_or(static_cast<uint32_t>(t.ne.size())));
            for (uint64_t d : t.ne) out.u64(d);
            out.u32(t.type).u64(t.offset);
        }
        return out;
    }
    std::vector<uint8_t> build() const {
        Bytes out = header_and_infos();
        while (out.b.size() % alignment) out.u8(0);
        for (uint64_t i = 0; i < data_bytes; ++i) out.u8(static_cast<uint8_t>(i));
        return out.b;
    }
};

// A small valid file: a few KVs of several types and two F32 tensors (4 and 2x8 elements).
inline RawGguf valid_small() {
    RawGguf g;
    g.kvs.push_back(kv_str("general.architecture", "llama"));
    g.kvs.push_back(kv_u32("llama.block_count", 2));
    g.kvs.push_back(kv_f32("llama.rope.freq_base", 10000.0f));
    g.kvs.push_back({"tokenizer.ggml.tokens", T_ARR, Bytes().u32(T_STR).u64(3).str("a").str("bc").str("<s>")});
    g.kvs.push_back({"flag", T_BOOL, Bytes().u8(1)});
    g.tensors.push_back({"a", {4}, 0, 0, std::nullopt});
    g.tensors.push_back({"b", {8, 2}, 0, 32, std::nullopt});
    g.data_bytes = 32 + 64;
    return g;
}

}  // namespace hearth::gguf::testing
