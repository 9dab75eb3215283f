// Hugging Face checkpoint -> GGUF (`hearth convert`): reads config.json, model.safetensors and the
// tokenizer files of a directory and writes a GGUF hearth (and llama.cpp) can load. BERT-family
// encoders (model_type "bert": MiniLM, BGE, cross-encoders, ...; "nomic_bert": nomic-embed-text) with a
// WordPiece vocabulary.
#pragma once

#include <string>

#include "quant/dtype.h"

namespace hearth::convert {

struct ConvertReport {
    std::string arch;       // general.architecture written
    int n_tensors = 0;
    uint64_t bytes = 0;     // tensor data bytes written
};

// outtype: F32, F16, BF16 or Q8_0 for the 2-D weight matrices (vectors stay F32). Throws Error
// (Io / InvalidFile / Unsupported) naming the file or key at fault.
ConvertReport convert_hf(const std::string& dir, const std::string& out_path, DType outtype);

}  // namespace hearth::convert
