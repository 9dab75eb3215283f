// Walsh-Hadamard rotation of a vector (n a power of two), optionally randomized by seeded sign flips,
// used to spread outliers over a KV head before it is quantized into the cache (-khad / -vhad) and
// to undo it exactly.
// forward: y = (1/sqrt n) * W * D * x, D = diagonal of +-1 signs drawn from the seed, W the Walsh
// (Sylvester) matrix. Seed 0 means D = I: the plain normalised Walsh-Hadamard transform, symmetric
// and its own inverse (the rotation llama.cpp applies to quantized KV caches).
#pragma once

#include <cstdint>

namespace hearth {

// True when n >= 1 is a power of two (the only lengths the rotation accepts).
bool hadamard_length_ok(int64_t n);

// x[0..n) := H x with H = (1/sqrt n) W D(seed). Orthogonal: dot products of two rotated vectors
// are those of the originals (up to float rounding). n must be a power of two (asserted).
void hadamard_forward(float* x, int64_t n, uint64_t seed);
// x[0..n) := H^T x, the exact inverse of hadamard_forward with the same n and seed.
void hadamard_inverse(float* x, int64_t n, uint64_t seed);

// The dense matrix of hadamard_forward (transposed = false) or of hadamard_inverse (true), as n rows
// of n floats, row i = the weights of output element i: out[i] = dot(row i, x). Built once per
// (n, seed, transposed) and kept for the life of the process (thread-safe); the graph uses it as an
// F32 mul_mat weight to rotate all heads of a batch at once.
const float* hadamard_matrix(int64_t n, uint64_t seed, bool transposed);

}  // namespace hearth
