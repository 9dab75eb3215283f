// AVX-512 flash attention over a float (F32 / F16 / BF16) K cache, any V cache type: the prompt and
// decode path of op_flash_attn at the Avx512 ISA level. The plan (work split, scratch layout) is
// baseline code (flash_attn_plan.cpp); the kernels live in flash_attn_avx512.cpp (AVX-512 flags).
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_ops.h"

namespace hearth::cpu::avx512 {

// KV rows per tile: tiles start at absolute KV positions 0, 64, 128, ... in every batch.
constexpr int64_t kFaTile = 64;
// Query tokens per work unit (a unit = KV head x sub-group of its query heads x query block):
// every converted K/V tile is shared by up to kFaQBlock * group rows.
constexpr int64_t kFaQBlock = 64;
// Rows (query tokens x heads of a sub-group) a unit aims at: wide GQA groups get fewer tokens.
constexpr int64_t kFaMaxRows = 256;
// From this many rows per KV head an F16/BF16 tile is converted to F32 once and shared by the rows;
// fewer rows (decode) read the cache directly. Both give the same floats, so the same results.
constexpr int64_t kFaConvertRows = 8;
// Most KV heads one decode-shaped unit walks in step (FlashPlan::heads_per_unit).
constexpr int64_t kFaMaxHeadsPerUnit = 8;

// Work split and per-thread scratch layout of one flash_attn node. A unit is (heads_per_unit KV
// heads, query block, sub-group of gsub query heads); for its KV head h (0-based within the unit)
// its row h * head_rows_pad + head_in_sub * nqb + qi. heads_per_unit > 1 only for decode shapes
// (one query block, rows per KV head below kFaConvertRows), where the unit's heads go through
// each tile one after another. Units are ordered KV head by KV head, query blocks decreasing, and
// claimed dynamically (OpCtx::unit_counter) or dealt to the threads in a snake.
// Scratch offsets are in bytes from the thread's per_thread pointer, each 64-byte aligned:
//   kt   [kFaTile][D]  f32  K tile converted from F16/BF16 (prompt units)
//   vt   [kFaTile][Dv] f32  V tile converted / dequantized
//   acc  [rows_pad][Dv] f32 output accumulators
//   s    [rows_pad][kFaTile] f32 scores, then probabilities
//   ml   [3][rows_pad]  f32 running max, running sum, this tile's rescale factor
//   zero [kFaTile]      f32 zeros (probabilities of a row that skips the tile)
//   dummy[Dv]           f32 accumulator sink of padding rows
//   qptr [rows_pad]     const float* query rows
//   vis  [qblk]         uint64 visible keys of the tile per query token
struct FlashPlan {
    int64_t D = 0, Dv = 0, nq = 0, nh = 0, nhkv = 0, group = 0;
    int64_t gsub = 0, n_sub = 0, qblk = 0, n_qb = 0, units = 0, rows_pad = 0;
    int64_t heads_per_unit = 1, head_rows_pad = 0;
    size_t off_kt = 0, off_vt = 0, off_acc = 0, off_s = 0, off_ml = 0, off_zero = 0, off_dummy = 0,
           off_qptr = 0, off_vis = 0, bytes = 0;
};

// Whether the AVX-512 path computes this flash_attn node: K must be F32, F16 or BF16 (a quantized
// K keeps the integer-dot path of cpu_ops_attention.cpp). Baseline code.
bool flash_attn_supported(const Tensor& dst);

// The plan for nth threads. Baseline code (safe to call on any CPU, e.g. for the work size).
FlashPlan flash_attn_plan(const Tensor& dst, int nth);

// The whole op for thread c.ith of c.nth; x86-64 builds only, call only at Isa::Avx512 when
// flash_attn_supported(dst); p = flash_attn_plan(dst, c.nth).
//
// Invariance: a query row's output bits do not depend on the batch it is computed in. Per (row,
// key) the score is one 16-lane FMA chain over d (lane = d % 16) folded by one fixed tree; softmax
// is per row over the tiles (64 score slots, invisible keys exactly 0 after exp, one fixed
// summation tree); each output element accumulates p * V in key order (p == 0 skipped), so neither
// the query block, the GQA sub-group nor the row's slot in a register block changes an operation.
// A tile where a row sees no key leaves that row's state untouched.
void flash_attn(Tensor& dst, const OpCtx& c, const FlashPlan& p);

// For the quantized-K path (cpu_ops_attention.cpp), x86-64 builds at Isa::Avx512 only:
// acc[r][d] += p[r][j] * V[j][d] for rows r < n_rows, keys j < tn in order (p == 0 skipped), where V
// row j is the row of type v at vb + j * vs dequantized to d * q: bitwise acc_weighted_rows over the
// tile kv_row_to_f32 converts (flash_attn_qv_avx512.cpp). Supported: Q8_0, Q4_0, IQ4_NL with Dv a
// multiple of 64 (acc_rows_v_direct_supported, baseline code).
bool acc_rows_v_direct_supported(DType v, int64_t Dv);
void acc_rows_v_direct(DType v, const float* const* p, float* const* acc, int n_rows, const char* vb, size_t vs,
                       int64_t tn, int64_t Dv);

}  // namespace hearth::cpu::avx512
