// Sentence-embedding pooling (none / mean / cls / last) and vector normalisation (--embd-normalize):
// pure functions over the per-token final hidden states of one sequence, shared by the embedder,
// `hearth embed` and the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

namespace gguf {
class File;
}

// Numbered as the GGUF key "<arch>.pooling_type" stores it.
enum class PoolingType : int { Unspecified = -1, None = 0, Mean = 1, Cls = 2, Last = 3, Rank = 4 };

// "none" | "mean" | "cls" | "last" | "rank"; anything else throws Error(InvalidArgument).
PoolingType parse_pooling(std::string_view name);
const char* pooling_name(PoolingType p);
// "<arch>.pooling_type" of the file; Unspecified when absent; Error(InvalidFile) for a bad value.
PoolingType file_pooling(const gguf::File& file, const std::string& arch);

// hidden: [n_tokens][n_embd] row-major hidden states of one sequence (n_tokens >= 1).
// None: all rows concatenated (n_tokens * n_embd); Mean: average row; Cls: row 0; Last: last row.
// Rank is not a pooling of hidden states (the Embedder applies the RankHead): Error(Unsupported).
std::vector<float> pool(const float* hidden, size_t n_tokens, size_t n_embd, PoolingType p);

// In place, as llama.cpp's --embd-normalize: -1 none, 0 max-abs scaled to the int16 range
// (x * 32760 / max|x|), 1 taxicab (sum |x|), 2 euclidean (L2), p > 2 p-norm. A zero vector stays zero.
void normalize(float* v, size_t n, int mode);

// Cosine similarity of two equally long vectors (0 when either is zero).
double cosine(const float* a, const float* b, size_t n);

}  // namespace hearth
