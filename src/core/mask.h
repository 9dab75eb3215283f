// Host-side helper that fills an attention mask input tensor (F32 [n_kv, n_q]): 0 where query i may
// attend to KV cell j, -INFINITY elsewhere. Causal, optional sliding window, optional sequence ids.
#pragma once

#include <cstdint>

namespace hearth {

struct MaskSpec {
    int64_t n_kv = 0;                 // KV cells (mask row length)
    int64_t n_q = 0;                  // query tokens (mask rows)
    const int32_t* q_pos = nullptr;   // [n_q] position of each query token
    const int32_t* kv_pos = nullptr;  // [n_kv] position stored in each cell; < 0 = empty cell
    const int32_t* q_seq = nullptr;   // optional [n_q] sequence id per query (nullptr = all 0)
    const int32_t* kv_seq = nullptr;  // optional [n_kv] sequence id per cell (nullptr = all 0)
    int32_t window = 0;               // sliding window: key visible iff q_pos - kv_pos < window; 0 = none
    bool causal = true;               // key visible only if kv_pos <= q_pos
};

// dst: n_q rows of row_stride floats (row_stride >= n_kv); columns [n_kv, row_stride) set to -inf.
void fill_kq_mask(const MaskSpec& spec, float* dst, int64_t row_stride);

}  // namespace hearth
