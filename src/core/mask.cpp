// Attention mask filling: causal / sliding-window / per-sequence visibility as 0 or -inf.
#include "core/mask.h"

#include <cmath>

#include "core/error.h"

namespace hearth {

void fill_kq_mask(const MaskSpec& s, float* dst, int64_t row_stride) {
    HEARTH_ASSERT(row_stride >= s.n_kv && s.q_pos && (s.n_kv == 0 || s.kv_pos));
    const float ninf = -INFINITY;
    for (int64_t i = 0; i < s.n_q; ++i) {
        float* row = dst + i * row_stride;
        const int32_t qp = s.q_pos[i];
        const int32_t qs = s.q_seq ? s.q_seq[i] : 0;
        for (int64_t j = 0; j < s.n_kv; ++j) {
            const int32_t kp = s.kv_pos[j];
            bool visible = kp >= 0;
            if (visible && s.kv_seq) visible = s.kv_seq[j] == qs;
            if (visible && s.causal) visible = kp <= qp;
            if (visible && s.window > 0) visible = static_cast<int64_t>(qp) - kp < s.window;
            row[j] = visible ? 0.0f : ninf;
        }
        for (int64_t j = s.n_kv; j < row_stride; ++j) row[j] = ninf;
    }
}

}  // namespace hearth
