// The table of known element types and their block layouts (facts of the GGUF/ggml format).
#include "quant/dtype.h"

#include <cctype>
#include <string>

#include "core/error.h"

namespace hearth {
namespace {

// can_dequantize / can_quantize reflect what src/quant implements; keep them honest.
constexpr DTypeTraits kTraits[] = {
    {DType::F32, "f32", 1, 4, true, true},
    {DType::F16, "f16", 1, 2, true, true},
    {DType::Q4_0, "q4_0", 32, 18, true, true},
    {DType::Q4_1, "q4_1", 32, 20, true, true},
    {DType::Q5_0, "q5_0", 32, 22, true, true},
    {DType::Q5_1, "q5_1", 32, 24, true, true},
    {DType::Q8_0, "q8_0", 32, 34, true, true},
    {DType::Q8_1, "q8_1", 32, 36, true, true},
    {DType::Q2_K, "q2_K", 256, 84, true, true},
    {DType::Q3_K, "q3_K", 256, 110, true, true},
    {DType::Q4_K, "q4_K", 256, 144, true, true},
    {DType::Q5_K, "q5_K", 256, 176, true, true},
    {DType::Q6_K, "q6_K", 256, 210, true, true},
    {DType::Q8_K, "q8_K", 256, 292, true, true},
    {DType::IQ2_XXS, "iq2_xxs", 256, 66, false, false},
    {DType::IQ2_XS, "iq2_xs", 256, 74, false, false},
    {DType::IQ3_XXS, "iq3_xxs", 256, 98, false, false},
    {DType::IQ1_S, "iq1_s", 256, 50, false, false},
    {DType::IQ4_NL, "iq4_nl", 32, 18, true, true},
    {DType::IQ3_S, "iq3_s", 256, 110, false, false},
    {DType::IQ2_S, "iq2_s", 256, 82, false, false},
    {DType::IQ4_XS, "iq4_xs", 256, 136, true, true},
    {DType::I8, "i8", 1, 1, false, false},
    {DType::I16, "i16", 1, 2, false, false},
    {DType::I32, "i32", 1, 4, false, false},
    {DType::I64, "i64", 1, 8, false, false},
    {DType::F64, "f64", 1, 8, false, false},
    {DType::IQ1_M, "iq1_m", 256, 56, false, false},
    {DType::BF16, "bf16", 1, 2, true, true},
    {DType::TQ1_0, "tq1_0", 256, 54, false, false},
    {DType::TQ2_0, "tq2_0", 256, 66, false, false},
    {DType::MXFP4, "mxfp4", 32, 17, false, false},
};

}  // namespace

const DTypeTraits* dtype_traits_by_id(uint32_t id) {
    for (const auto& t : kTraits)
        if (static_cast<uint32_t>(t.type) == id) return &t;
    return nullptr;
}

const DTypeTraits& dtype_traits(DType type) {
    const DTypeTraits* t = dtype_traits_by_id(static_cast<uint32_t>(type));
    HEARTH_ASSERT_MSG(t != nullptr, "unknown DType value");
    return *t;
}

std::optional<DType> dtype_from_name(std::string_view name) {
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& t : kTraits) {
        std::string n(t.name);
        for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (n == lower) return t.type;
    }
    return std::nullopt;
}

size_t dtype_row_bytes(DType type, int64_t n) {
    const DTypeTraits& t = dtype_traits(type);
    HEARTH_ASSERT(n >= 0 && n % t.block_elems == 0);
    return static_cast<size_t>(n / t.block_elems) * t.block_bytes;
}

}  // namespace hearth
