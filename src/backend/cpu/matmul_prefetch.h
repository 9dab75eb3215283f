// Software prefetch for the repacked decode kernels (matmul_repacked_avx512.cpp and
// matmul_repacked_avx2.cpp; 1-8 activation columns, which stream DRAM-resident weights once).
// Each group of 4-byte columns prefetches a few lines starting kDecodePrefetch bytes ahead of its
// own share of the kernel's step (a sub-block, or a Q6_K quad), overlapping the next group's,
// instead of one burst of all the step's lines at its start: a burst (27 lines for a Q6_K quad)
// fills the miss buffers, stalls the core, and leaves the stream idle while it computes.
// Measured in one process alternating tokens between builds (hearth_ab_builds; Qwen3-0.6B-shaped
// files, 2 threads): against 2 KiB bursts, tg went up 24% on Q4_K_M, 11-16% on Q4_0, 4-8% on
// Q8_0; 4 KiB ahead beat 2 KiB, 6 KiB was even, and exact per-group slices (no overlap) gave
// about half the gain.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace hearth::cpu {
namespace {

constexpr int kDecodePrefetch = 4096;

// kLines consecutive 64-byte lines from p on. always_inline: GCC infers that a helper doing only
// prefetches has no side effects and deletes its calls before it would inline them.
template <int kLines>
__attribute__((always_inline)) inline void prefetch_lines(const uint8_t* p) {
#pragma GCC unroll 8
    for (int l = 0; l < kLines; ++l) _mm_prefetch(reinterpret_cast<const char*>(p + 64 * l), _MM_HINT_T0);
}

}  // namespace
}  // namespace hearth::cpu
