// Per-tensor type policy of the quantization mixes (see quant_mix.h). The rules are facts about
// llama.cpp's llama-quantize choices, re-expressed here: layer position is taken from the
// "blk.<i>." prefix of the tensor name.
#include "quant/mix/quant_mix.h"

#include <cctype>
#include <cstdlib>

namespace hearth::quant {
namespace {

const std::vector<QuantMix> kMixes = {
    {"F16", 1, DType::F16, "16-bit float"},
    {"BF16", 32, DType::BF16, "bfloat16"},
    {"Q8_0", 7, DType::Q8_0, "8-bit, 32-element blocks"},
    {"Q4_0", 2, DType::Q4_0, "4-bit, one scale per 32"},
    {"Q4_1", 3, DType::Q4_1, "4-bit, scale + min per 32"},
    {"Q5_0", 8, DType::Q5_0, "5-bit, one scale per 32"},
    {"Q5_1", 9, DType::Q5_1, "5-bit, scale + min per 32"},
    {"Q2_K", 10, DType::Q2_K, "2-bit K-quant mix"},
    {"Q3_K_S", 11, DType::Q3_K, "3-bit K-quant, small"},
    {"Q3_K_M", 12, DType::Q3_K, "3-bit K-quant, medium"},
    {"Q3_K_L", 13, DType::Q3_K, "3-bit K-quant, large"},
    {"Q4_K_S", 14, DType::Q4_K, "4-bit K-quant, small"},
    {"Q4_K_M", 15, DType::Q4_K, "4-bit K-quant, medium (recommended)"},
    {"Q5_K_S", 16, DType::Q5_K, "5-bit K-quant, small"},
    {"Q5_K_M", 17, DType::Q5_K, "5-bit K-quant, medium"},
    {"Q6_K", 18, DType::Q6_K, "6-bit K-quant"},
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// Layer index from "blk.<i>.", or -1.
int layer_of(std::string_view name) {
    if (name.substr(0, 4) != "blk.") return -1;
    int v = 0;
    size_t i = 4;
    if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && v < 1000000) v = v * 10 + (name[i++] - '0');
    return v;
}

// llama.cpp's "use more bits" layer pattern: the first and last eighth, and every third layer
// in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is_k_type(DType t) {
    return t == DType::Q2_K || t == DType::Q3_K || t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K;
}

// A compatible type for rows that are not a multiple of the chosen type's block size.
DType fallback_for_row(DType t, int64_t ne0) {
    DType f = t;
    switch (t) {
        case DType::Q2_K:
        case DType::Q3_K:
        case DType::IQ4_XS: f = DType::IQ4_NL; break;
        case DType::Q4_K: f = DType::Q5_0; break;
        case DType::Q5_K: f = DType::Q5_1; break;
        case DType::Q6_K: f = DType::Q8_0; break;
        default: break;
    }
    if (ne0 % dtype_traits(f).block_elems != 0) f = DType::F16;
    return f;
}

}  // namespace

const std::vector<QuantMix>& quant_mixes() { return kMixes; }

std::optional<QuantMix> quant_mix_from_name(std::string_view name) {
    for (const auto& m : kMixes)
        if (iequals(m.name, name)) return m;
    return std::nullopt;
}

bool is_quantizable_tensor(std::string_view name, int n_dims) {
    if (n_dims < 2 || !ends_with(name, "weight")) return false;
    if (contains(name, "_norm") || contains(name, "norm.weight")) return false;
    for (std::string_view skip : {"ffn_gate_inp.weight", "pos_embd", "position_embd", "token_types", "ssm_conv1d",
                                  "ssm_a", "ssm_d", "attn_rel_b"})
        if (contains(name, skip)) return false;
    return true;
}

DType choose_tensor_type(const QuantMix& mix, const ModelShape& model, std::string_view name, int64_t ne0) {
    const DType base = mix.base;
    if (base == DType::F16 || base == DType::BF16) return base;  // float mixes: no per-tensor policy
    const std::string_view m = mix.name;
    const int n_layer = model.n_layer;
    const int layer = layer_of(name);
    DType t = base;

    const bool is_output = name == "output.weight" || (!model.has_output && name == "token_embd.weight");
    if (is_output) {
        if (ne0 % 256 != 0) t = DType::Q8_0;
        else if (t != DType::Q8_0) t = DType::Q6_K;
    } else if (contains(name, "attn_v.weight")) {
        const int n_gqa = model.n_head_kv > 0 ? model.n_head / model.n_head_kv : 1;
        if (m == "Q2_K") t = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
        else if (m == "Q3_K_M") t = layer < 2 ? DType::Q5_K : DType::Q4_K;
        else if (m == "Q3_K_L") t = DType::Q5_K;
        else if ((m == "Q4_K_M" || m == "Q5_K_M") && use_more_bits(layer, n_layer)) t = DType::Q6_K;
        else if (m == "Q4_K_S" && layer < 4) t = DType::Q5_K;
    } else if (contains(name, "ffn_down")) {
        if (m == "Q2_K") t = DType::Q3_K;
        else if (m == "Q3_K_M") t = layer < n_layer / 16 ? DType::Q5_K : DType::Q4_K;
        else if (m == "Q3_K_L") t = DType::Q5_K;
        else if ((m == "Q4_K_M" || m == "Q5_K_M") && use_more_bits(layer, n_layer)) t = DType::Q6_K;
        else if (m == "Q4_K_S" && layer < n_layer / 8) t = DType::Q5_K;
    } else if (contains(name, "attn_output.weight")) {
        if (m == "Q2_K") t = DType::Q3_K;
        else if (m == "Q3_K_M") t = DType::Q4_K;
        else if (m == "Q3_K_L") t = DType::Q5_K;
    } else if (contains(name, "attn_qkv.weight")) {
        if (m == "Q3_K_M" || m == "Q3_K_L") t = DType::Q4_K;
        else if (m == "Q4_K_M") t = DType::Q5_K;
        else if (m == "Q5_K_M") t = DType::Q6_K;
    }
    if (ne0 % dtype_traits(t).block_elems != 0 || (is_k_type(t) && ne0 % 256 != 0)) t = fallback_for_row(t, ne0);
    return t;
}

}  // namespace hearth::quant
