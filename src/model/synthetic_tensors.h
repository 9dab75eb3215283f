// Internal to the synthetic model writers (synthetic.cpp, synthetic_encoder.cpp): random tensors
// seeded per (spec seed, tensor name), and the encoder architectures' tensor layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/synthetic.h"

namespace hearth {

// A projection [n_in, n_out] (ggml order) of N(0, 1/sqrt(n_in)) values in s.type (F16 when n_in does
// not fit the type's blocks).
void add_synthetic_matrix(gguf::Writer& w, const SyntheticSpec& s, const std::string& name, int64_t n_in, int64_t n_out);
// An F32 tensor of N(mean, sd) values (norm weights, biases, small tables).
void add_synthetic_vector(gguf::Writer& w, const SyntheticSpec& s, const std::string& name, std::vector<int64_t> shape, float mean,
                          float sd);
// The "<arch>.*" encoder keys and every tensor of a bert / nomic-bert model (plus the rank head when
// s.rank_head). Throws Error(InvalidArgument) when n_head_kv != n_head.
void add_synthetic_encoder(gguf::Writer& w, const SyntheticSpec& s, int64_t n_vocab);

}  // namespace hearth
