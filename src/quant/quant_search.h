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

// Nearest-level lookup for sorted integer levels in [-127, 127]: a table over half-unit steps (the
// midpoints of integer levels fall on half units, so the nearest level is constant in between).
class LevelTable {
public:
    LevelTable(const int8_t* levels, int n_levels);
    int nearest(float v) const {
        float h = 2.0f * v;
        h = h > -256.0f ? h : -256.0f;  // NaN -> lowest
        h = h < 255.5f ? h : 255.5f;
        return index_[static_cast<int>(h + 256.0f)];
    }
    int8_t level(int i) const { return levels_[i]; }
    int size() const { return n_; }

private:
    const int8_t* levels_;
    int n_;
    uint8_t index_[512];
};

// Non-uniform levels: x ≈ a * level(L), L in [0, size). Returns a.
float fit_levels(const float* x, const float* w, int n, const LevelTable& levels, uint8_t* L, int nsteps);

// Weights for a block: importance when given, else all ones (plain squared error).
void block_weights(const float* importance, int64_t offset, int n, float* w);

}  // namespace hearth::quant
