// Weighted least-squares searches for block scales, shared by the reference quantizers.
// A search tries many candidate scales (each mapping the block's extreme value onto a slightly
// different quantization level), refines each candidate's scale (and offset) by least squares for
// the levels it produced, then alternates "round to nearest level" / "least-squares refit" from the
// best candidate until the weighted squared error stops improving.
#pragma once

#include <cstdint>

namespace hearth::quant {

// x ≈ a * L with integer L in [lo, hi] (lo < 0 < hi); a may be negative. Minimizes sum w (x - aL)^2.
// Writes L[0..n) and returns a (0 and all L = 0 when the block is all zeros).
float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, int8_t* L, int nsteps);

// x ≈ a * L + b with integer L in [0, nmax], a >= 0. When nonpositive_offset, b is kept <= 0 (the
// K-quant "min" is stored as a non-negative number subtracted from every value). Writes L, *a, *b.
void fit_asymmetric(const float* x, const float* w, int n, int nmax, bool nonpositive_offset,
                    uint8_t* L, float* a, float* b, int nsteps);

// Non-uniform levels: x ≈ a * levels[L], L in [0, n_levels), levels sorted ascending. Returns a.
float fit_levels(const float* x, const float* w, int n, const int8_t* levels, int n_levels, uint8_t* L,
                 int nsteps);

// Weights for a block: importance when given, else all ones (plain squared error).
void block_weights(const float* importance, int64_t offset, int n, float* w);

}  // namespace hearth::quant
