// Element types of tensors, numbered exactly as GGUF files number them (the ggml type ids), with
// the block layout facts every layer needs: elements per block and bytes per block.
// This header depends on nothing so that the GGUF reader, kernels and tools can all share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class DType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct DTypeTraits {
    DType type;
    const char* name;        // as llama.cpp prints it: "f32", "q4_K", ...
    uint32_t block_elems;    // elements per block (1 for plain types)
    uint32_t block_bytes;    // bytes per block
    bool can_dequantize;     // hearth has a reference dequantizer for it
    bool can_quantize;       // hearth has a reference quantizer for it
};

// Traits of a known type; nullptr for an id that is not a known type (e.g. a removed or future id).
const DTypeTraits* dtype_traits_by_id(uint32_t id);
const DTypeTraits& dtype_traits(DType type);
inline const char* dtype_name(DType type) { return dtype_traits(type).name; }

// Case-insensitive lookup by name ("q4_k", "Q4_K", "f16", "bf16").
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of one row of n elements; n must be a multiple of the block size (checked by callers
// that handle untrusted input; asserted here).
size_t dtype_row_bytes(DType type, int64_t n);

}  // namespace hearth
