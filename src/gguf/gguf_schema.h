// Internal to src/gguf: the types that well-known metadata keys must have (general.*, tokenizer.*,
// and the common <arch>.* hyper-parameters). A file declaring e.g. llama.block_count as a string
// is rejected at load time instead of confusing the model loader later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace hearth::gguf::detail {

// Checks every KV whose key is well known (except general.alignment: see check_alignment); `architecture` is general.architecture ("" if absent).
// Throws Error(InvalidFile) naming the key, its byte offset, the type found and the type required.
void check_well_known_keys(const std::vector<KeyValue>& kvs, const std::string& architecture);

// general.alignment: must be a UInt32, non-zero power of two. Returns it.
uint32_t check_alignment(const KeyValue& kv);

}  // namespace hearth::gguf::detail
