// KV-cache position shift for context shifting (llama.cpp's seq_add): moves a sequence's cached
// positions by a delta and re-rotates the cached K rows to what RoPE gives at the new positions.
// RoPE turns each pair of K dims by an angle linear in the position, so turning by the delta composes.
#pragma once

#include <cstdint>

namespace hearth {

namespace ops {
struct RopeParams;  // core/ops.h (not included: its core Context clashes with runtime/context.h)
}
class KvCache;
struct HParams;
struct ArchSpec;

// Turns the first rp.n_dims dims of one head vector x (pairs as rp.mode says) by the angle of
// `delta` positions. A pure rotation: no YaRN magnitude factor (the cached K already carries it).
// Angles are computed in double. Throws Error(Unsupported) for YaRN (ext_factor != 0).
void rope_rotate_by(float* x, const ops::RopeParams& rp, int32_t delta);

// Adds delta to the positions of the cells of sequence `seq` whose position is in [p0, p1) (p1 < 0:
// to the end) and re-rotates their K rows in every layer: each head row is dequantized, the
// Hadamard rotation undone when the cache applies one (-khad), turned by delta, re-rotated and
// re-quantized (f32/f16 without Hadamard: only float rounding). A cell whose position would become
// negative is removed, as llama.cpp does. Cells shared with other sequences (kv_copy) are first
// copied so the other sequences keep their positions. V rows carry no position and stay as they are.
// Throws Error: InvalidArgument (bad seq, position overflow), Unsupported (architecture without
// rope, e.g. bert), OutOfMemory (no free cell to un-share a cell); nothing has changed then.
void kv_shift(KvCache& kv, const HParams& hp, const ArchSpec& spec, int32_t seq, int32_t p0, int32_t p1, int32_t delta);

// llama.cpp's context shift of a sequence holding positions [0, n_past): keep the first n_keep,
// discard half of the rest. Returns how many positions to discard (>= 1 when n_past > n_keep + 1,
// else 0: nothing can be freed).
inline int32_t context_shift_discard(int32_t n_past, int32_t n_keep) {
    const int32_t left = n_past - n_keep;
    return left >= 2 ? left / 2 : 0;
}

}  // namespace hearth
