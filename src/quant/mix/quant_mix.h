// Quantization mixes for `hearth quantize` (Q4_K_M, Q5_K_S, ...): which element type each tensor
// of a model gets. The choices follow llama.cpp's llama-quantize so files are interchangeable:
// norms and other 1-D tensors are kept, the output projection (or tied token embedding) goes to
// Q6_K, some attn_v / ffn_down / attn_output layers are raised by position, and a tensor whose rows
// do not fit the chosen block size falls back to a compatible type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quant/dtype.h"

namespace hearth::quant {

struct QuantMix {
    const char* name;    // "Q4_K_M"
    uint32_t file_type;  // llama.cpp's general.file_type number (LLAMA_FTYPE_MOSTLY_*)
    DType base;          // the type most weight matrices get
    const char* description;
};

// Case-insensitive lookup ("q4_k_m", "Q8_0", "f16"); nullopt for an unknown name.
std::optional<QuantMix> quant_mix_from_name(std::string_view name);
const std::vector<QuantMix>& quant_mixes();

// What the policy needs to know about the model as a whole.
struct ModelShape {
    std::string arch;      // general.architecture
    int n_layer = 0;       // <arch>.block_count
    int n_head = 0;        // <arch>.attention.head_count (0 if unknown)
    int n_head_kv = 0;     // <arch>.attention.head_count_kv (0 if unknown)
    bool has_output = false;  // an untied "output.weight" tensor exists
};

// True when the tensor is a weight matrix that a mix converts (2+ dimensions, name ending in
// "weight", not a norm / positional / gating-input tensor). Other tensors are copied unchanged.
bool is_quantizable_tensor(std::string_view name, int n_dims);

// The type tensor `name` (ne0 = row length) gets under the mix. Must only be called for
// quantizable tensors.
DType choose_tensor_type(const QuantMix& mix, const ModelShape& model, std::string_view name, int64_t ne0);

}  // namespace hearth::quant
