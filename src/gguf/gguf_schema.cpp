// The table of well-known GGUF keys and the value types they must carry, and the check that applies
// it. Keys not in the table may have any type (GGUF is extensible); the ones here are read by
// hearth's loader and tokenizer, so a wrong type is a malformed file.
#include "gguf/gguf_schema.h"

#include <string_view>

#include "core/error.h"

namespace hearth::gguf::detail {
namespace {

enum class Expect {
    String,
    Bool,
    Int,             // any integer type
    Count,           // any integer type, value >= 0
    CountOrArray,    // a count, or an array of integers (per-layer values, e.g. OpenELM)
    Float,           // Float32 / Float64
    StringArray,
    FloatArray,
    IntArray,
};

struct Rule {
    std::string_view key;  // full key, or the part after "<arch>." for arch rules
    Expect expect;
};

constexpr Rule kGlobalRules[] = {
    {"general.architecture", Expect::String},
    {"general.name", Expect::String},
    {"general.file_type", Expect::Count},
    {"general.quantization_version", Expect::Count},
    {"tokenizer.ggml.model", Expect::String},
    {"tokenizer.ggml.pre", Expect::String},
    {"tokenizer.ggml.tokens", Expect::StringArray},
    {"tokenizer.ggml.scores", Expect::FloatArray},
    {"tokenizer.ggml.token_type", Expect::IntArray},
    {"tokenizer.ggml.merges", Expect::StringArray},
    {"tokenizer.ggml.bos_token_id", Expect::Int},
    {"tokenizer.ggml.eos_token_id", Expect::Int},
    {"tokenizer.ggml.unknown_token_id", Expect::Int},
    {"tokenizer.ggml.padding_token_id", Expect::Int},
    {"tokenizer.ggml.separator_token_id", Expect::Int},
    {"tokenizer.ggml.mask_token_id", Expect::Int},
    {"tokenizer.ggml.eot_token_id", Expect::Int},
    {"tokenizer.ggml.eom_token_id", Expect::Int},
    {"tokenizer.ggml.add_bos_token", Expect::Bool},
    {"tokenizer.ggml.add_eos_token", Expect::Bool},
    {"tokenizer.ggml.add_space_prefix", Expect::Bool},
    {"tokenizer.chat_template", Expect::String},
};

constexpr Rule kArchRules[] = {
    {"vocab_size", Expect::Count},
    {"context_length", Expect::Count},
    {"embedding_length", Expect::Count},
    {"block_count", Expect::Count},
    {"feed_forward_length", Expect::CountOrArray},
    {"expert_count", Expect::Count},
    {"expert_used_count", Expect::Count},
    {"attention.head_count", Expect::CountOrArray},
    {"attention.head_count_kv", Expect::CountOrArray},
    {"attention.key_length", Expect::Count},
    {"attention.value_length", Expect::Count},
    {"attention.sliding_window", Expect::Count},
    {"attention.layer_norm_epsilon", Expect::Float},
    {"attention.layer_norm_rms_epsilon", Expect::Float},
    {"attention.causal", Expect::Bool},
    {"rope.dimension_count", Expect::Count},
    {"rope.freq_base", Expect::Float},
    {"rope.scaling.type", Expect::String},
    {"rope.scaling.factor", Expect::Float},
    {"rope.scaling.original_context_length", Expect::Count},
    {"final_logit_softcapping", Expect::Float},
    {"attn_logit_softcapping", Expect::Float},
};

const char* expect_name(Expect e) {
    switch (e) {
        case Expect::String: return "a string";
        case Expect::Bool: return "a bool";
        case Expect::Int: return "an integer";
        case Expect::Count: return "a non-negative integer";
        case Expect::CountOrArray: return "a non-negative integer or an array of integers";
        case Expect::Float: return "a float (f32 or f64)";
        case Expect::StringArray: return "an array of strings";
        case Expect::FloatArray: return "an array of floats";
        case Expect::IntArray: return "an array of integers";
    }
    return "?";
}

bool is_negative(const Value& v) {
    const auto* i = std::get_if<int64_t>(&v.scalar);
    return i && *i < 0;
}

bool matches(const Value& v, Expect e) {
    const bool array = v.type == ValueType::Array;
    switch (e) {
        case Expect::String: return v.type == ValueType::String;
        case Expect::Bool: return v.type == ValueType::Bool;
        case Expect::Int: return is_integer_type(v.type);
        case Expect::Count: return is_integer_type(v.type) && !is_negative(v);
        case Expect::CountOrArray:
            return (is_integer_type(v.type) && !is_negative(v)) || (array && is_integer_type(v.array_type));
        case Expect::Float: return is_float_type(v.type);
        case Expect::StringArray: return array && v.array_type == ValueType::String;
        case Expect::FloatArray: return array && is_float_type(v.array_type);
        case Expect::IntArray: return array && is_integer_type(v.array_type);
    }
    return false;
}

std::string describe(const Value& v) {
    if (v.type == ValueType::Array) return std::string("array of ") + value_type_name(v.array_type);
    std::string s = value_type_name(v.type);
    if (is_negative(v)) s += " " + std::to_string(std::get<int64_t>(v.scalar));
    return s;
}

[[noreturn]] void reject(const KeyValue& kv, const std::string& why) {
    throw Error(ErrorKind::InvalidFile, "gguf: key '" + kv.key + "': " + why + " (at byte offset " +
                                            std::to_string(kv.file_offset) + ")");
}

}  // namespace

uint32_t check_alignment(const KeyValue& kv) {
    if (kv.value.type != ValueType::UInt32)
        reject(kv, std::string("general.alignment must be a u32, found ") + describe(kv.value));
    const uint64_t a = std::get<uint64_t>(kv.value.scalar);
    if (a == 0 || (a & (a - 1)) != 0)
        reject(kv, "general.alignment must be a non-zero power of two, found " + std::to_string(a));
    return static_cast<uint32_t>(a);
}

void check_well_known_keys(const std::vector<KeyValue>& kvs, const std::string& architecture) {
    const std::string prefix = architecture.empty() ? std::string() : architecture + ".";
    for (const KeyValue& kv : kvs) {
        const std::string_view key = kv.key;
        if (key == "general.alignment") continue;  // checked by the reader via check_alignment()
        const Rule* rule = nullptr;
        for (const Rule& r : kGlobalRules)
            if (r.key == key) rule = &r;
        if (!rule && !prefix.empty() && key.size() > prefix.size() && key.starts_with(prefix)) {
            const std::string_view rest = key.substr(prefix.size());
            for (const Rule& r : kArchRules)
                if (r.key == rest) rule = &r;
        }
        if (rule && !matches(kv.value, rule->expect))
            reject(kv, std::string("must be ") + expect_name(rule->expect) + ", found " + describe(kv.value));
    }
}

}  // namespace hearth::gguf::detail
