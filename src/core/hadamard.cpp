// Randomized Walsh-Hadamard rotation: sign flips from a seeded hash, then the in-place fast
// Walsh-Hadamard butterfly (n log n) normalised by 1/sqrt(n); plus a cache of its dense matrices.
#include "core/hadamard.h"

#include <cmath>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/error.h"

namespace hearth {
namespace {

// Sign of element i for a seed: one bit of a splitmix64-style mix of (seed, i); seed 0: no flips.
inline bool sign_negative(uint64_t seed, int64_t i) {
    if (seed == 0) return false;
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t(i) + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (z >> 63) != 0;
}

// Unnormalised in-place Walsh-Hadamard transform (Sylvester order); W is symmetric, W*W = n*I.
void walsh(float* x, int64_t n) {
    for (int64_t h = 1; h < n; h *= 2)
        for (int64_t i = 0; i < n; i += 2 * h)
            for (int64_t j = i; j < i + h; ++j) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

}  // namespace

bool hadamard_length_ok(int64_t n) { return n >= 1 && (n & (n - 1)) == 0; }

void hadamard_forward(float* x, int64_t n, uint64_t seed) {
    HEARTH_ASSERT(hadamard_length_ok(n));
    for (int64_t i = 0; i < n; ++i)
        if (sign_negative(seed, i)) x[i] = -x[i];
    walsh(x, n);
    const float s = 1.0f / std::sqrt(float(n));
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void hadamard_inverse(float* x, int64_t n, uint64_t seed) {
    HEARTH_ASSERT(hadamard_length_ok(n));
    walsh(x, n);
    const float s = 1.0f / std::sqrt(float(n));
    for (int64_t i = 0; i < n; ++i) x[i] *= sign_negative(seed, i) ? -s : s;
}

const float* hadamard_matrix(int64_t n, uint64_t seed, bool transposed) {
    HEARTH_ASSERT(hadamard_length_ok(n));
    static std::mutex mu;
    static std::map<std::tuple<int64_t, uint64_t, bool>, std::unique_ptr<std::vector<float>>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = cache[{n, seed, transposed}];
    if (!slot) {
        // Column j of H = hadamard_forward(e_j). Forward rows: row i holds H[i][j] over j;
        // transposed rows: row j holds H[i][j] over i (= H^T's row j).
        auto m = std::make_unique<std::vector<float>>(size_t(n * n));
        std::vector<float> e(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) {
            std::fill(e.begin(), e.end(), 0.0f);
            e[size_t(j)] = 1.0f;
            hadamard_forward(e.data(), n, seed);
            for (int64_t i = 0; i < n; ++i) {
                if (transposed)
                    (*m)[size_t(j * n + i)] = e[size_t(i)];
                else
                    (*m)[size_t(i * n + j)] = e[size_t(i)];
            }
        }
        slot = std::move(m);
    }
    return slot->data();
}

}  // namespace hearth
