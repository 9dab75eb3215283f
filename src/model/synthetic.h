// Synthetic model generator: a GGUF file of a supported architecture (decoders and the bert /
// nomic-bert encoders) with random Gaussian weights and the tokenizer copied from a vocab GGUF, so
// every architecture runs in CI without downloads (`hearth gen-model`, tests/unit/test_model_archs.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "quant/dtype.h"

namespace hearth {

struct SyntheticSpec {
    std::string arch = "qwen3";  // a row of the architecture table
    std::string vocab_path;      // GGUF whose tokenizer.* keys are copied (sets n_vocab)
    int64_t n_layer = 2;
    int64_t n_embd = 64;
    int64_t n_head = 4;
    int64_t n_head_kv = 2;
    int64_t head_dim = 16;
    int64_t n_ff = 128;
    int64_t n_ctx_train = 4096;
    int64_t sliding_window = 64;  // for architectures with sliding-window layers
    float rope_base = 10000.0f;
    DType type = DType::F16;      // type of the 2-D weight matrices (norms stay F32)
    uint64_t seed = 1234;
    bool tied_output = true;      // false: also write output.weight
    int64_t n_vocab = 0;          // 0: the vocab file's size; larger: pad with unused control tokens
                                  // (e.g. Qwen3's 151936 rows over a smaller test vocab)
    // Encoders (bert, nomic-bert) only:
    bool rank_head = false;       // also write a reranker head (cls.* pooler + cls.output.* 1 logit)
                                  // and <arch>.pooling_type 4 (rank)
    int64_t n_types = 2;          // rows of token_types.weight
};

// Writes the model to out_path. Throws Error (InvalidArgument for impossible shapes, Unsupported for
// an unknown architecture or a type hearth cannot quantize, InvalidFile for a vocab without tokens).
void write_synthetic_model(const SyntheticSpec& spec, const std::string& out_path);

}  // namespace hearth
