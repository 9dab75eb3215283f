// CPU rotary position embedding (normal / NeoX pairs, linear scaling, YaRN). The cos/sin rows of a
// batch's positions are the same in every layer, so each thread keeps them in a small per-thread
// table (keyed by the rope constants and the positions) filled on first use and reused by the rope
// nodes of every later layer; the values are computed exactly as before, so results are unchanged.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_rows.h"

namespace hearth::cpu {
namespace {

struct RopeConsts {
    int n_dims;
    bool neox;
    float freq_scale, ext_factor, attn_factor, theta_scale;
    float corr_low, corr_high;
};

// YaRN: the pair index below which a dimension rotates fast enough to keep extrapolating, for a
// given number of full rotations over the original context.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return n_dims * std::log(n_ctx_orig / (n_rot * 2.0f * static_cast<float>(M_PI))) / (2.0f * std::log(base));
}

RopeConsts rope_consts(const Tensor& t) {
    RopeConsts k;
    k.n_dims = t.param_i(0);
    k.neox = t.param_i(1) == 2;
    const int n_ctx_orig = t.param_i(2);
    const float base = t.param_f(3);
    k.freq_scale = t.param_f(4);
    k.ext_factor = t.param_f(5);
    k.attn_factor = t.param_f(6);
    const float beta_fast = t.param_f(7), beta_slow = t.param_f(8);
    k.theta_scale = std::pow(base, -2.0f / static_cast<float>(k.n_dims));
    k.corr_low = 0.0f;
    k.corr_high = 0.0f;
    if (k.ext_factor != 0.0f && n_ctx_orig > 0) {
        k.corr_low = std::max(0.0f, std::floor(yarn_corr_dim(k.n_dims, n_ctx_orig, beta_fast, base)));
        k.corr_high = std::min(static_cast<float>(k.n_dims - 1), std::ceil(yarn_corr_dim(k.n_dims, n_ctx_orig, beta_slow, base)));
    }
    return k;
}

// cos/sin of every rotated pair i in [0, n_dims/2) at position pos (already scaled by mscale).
void rope_cache(const RopeConsts& k, int32_t pos, float* cs, float* sn) {
    float theta_extrap = static_cast<float>(pos);
    float mscale = k.attn_factor;
    if (k.ext_factor != 0.0f) mscale *= 1.0f + 0.1f * std::log(1.0f / k.freq_scale);
    for (int i = 0; i < k.n_dims / 2; ++i) {
        const float theta_interp = k.freq_scale * theta_extrap;
        float theta = theta_interp;
        if (k.ext_factor != 0.0f) {
            const float y = (static_cast<float>(i) - k.corr_low) / std::max(0.001f, k.corr_high - k.corr_low);
            const float ramp = 1.0f - std::min(1.0f, std::max(0.0f, y));
            const float mix = ramp * k.ext_factor;
            theta = theta_interp * (1.0f - mix) + theta_extrap * mix;
        }
        cs[i] = std::cos(theta) * mscale;
        sn[i] = std::sin(theta) * mscale;
        theta_extrap *= k.theta_scale;
    }
}

bool same_consts(const RopeConsts& a, const RopeConsts& b) {
    return a.n_dims == b.n_dims && a.neox == b.neox && a.freq_scale == b.freq_scale && a.ext_factor == b.ext_factor &&
           a.attn_factor == b.attn_factor && a.theta_scale == b.theta_scale && a.corr_low == b.corr_low &&
           a.corr_high == b.corr_high;
}

// cos/sin rows of one batch's positions for one set of constants: row t = [cs[half] | sn[half]].
struct RopeTable {
    RopeConsts k{};
    std::vector<int32_t> pos;
    std::vector<float> rows;
    std::vector<uint8_t> ready;  // per token: row computed
    uint64_t last_use = 0;
};

// Two tables per thread: models alternate at most two rope configurations (Gemma 3: local and
// global layers). Batches beyond kMaxTableFloats compute rows on the fly instead.
constexpr size_t kMaxTableFloats = size_t(8) << 20;
thread_local RopeTable t_tables[2];
thread_local uint64_t t_clock = 0;

RopeTable* table_for(const RopeConsts& k, const int32_t* pos, int64_t n) {
    if (static_cast<size_t>(n) * static_cast<size_t>(k.n_dims) > kMaxTableFloats) return nullptr;
    for (RopeTable& t : t_tables)
        if (same_consts(t.k, k) && static_cast<int64_t>(t.pos.size()) == n &&
            std::memcmp(t.pos.data(), pos, sizeof(int32_t) * static_cast<size_t>(n)) == 0) {
            t.last_use = ++t_clock;
            return &t;
        }
    RopeTable& t = t_tables[0].last_use <= t_tables[1].last_use ? t_tables[0] : t_tables[1];
    t.k = k;
    t.pos.assign(pos, pos + n);
    t.rows.resize(static_cast<size_t>(n) * static_cast<size_t>(k.n_dims));
    t.ready.assign(static_cast<size_t>(n), 0);
    t.last_use = ++t_clock;
    return &t;
}

}  // namespace

WorkSize rope_work_size(const Tensor& node, int nth) {
    (void)nth;
    return {0, sizeof(float) * static_cast<size_t>(node.param_i(0))};
}

void op_rope(Tensor& dst, const OpCtx& c) {
    const Tensor& x = *dst.src[0];
    const int32_t* pos = static_cast<const int32_t*>(dst.src[1]->data);
    const RopeConsts k = rope_consts(dst);
    const int64_t hd = x.ne[0], nh = x.ne[1];
    const int half = k.n_dims / 2;
    int64_t r0, r1;
    split_range(nh * x.ne[2], c.ith, c.nth, r0, r1);
    RopeTable* table = r1 > r0 ? table_for(k, pos, x.ne[2]) : nullptr;
    float* own = reinterpret_cast<float*>(c.per_thread);  // [cs | sn] without a table
    int64_t cached_token = -1;
    const float* cs = own;
    const float* sn = own + half;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t h = r % nh, t = r / nh;
        if (t != cached_token) {
            if (table) {
                float* row = table->rows.data() + static_cast<size_t>(t) * static_cast<size_t>(k.n_dims);
                if (!table->ready[static_cast<size_t>(t)]) {
                    rope_cache(k, pos[t], row, row + half);
                    table->ready[static_cast<size_t>(t)] = 1;
                }
                cs = row;
                sn = row + half;
            } else {
                rope_cache(k, pos[t], own, own + half);
            }
            cached_token = t;
        }
        const float* in = reinterpret_cast<const float*>(x.row_ptr(h, t));
        float* out = reinterpret_cast<float*>(dst.row_ptr(h, t));
        if (k.neox) {
            rope_neox_row(c.isa, in, cs, sn, out, half);
        } else {
            for (int i = 0; i < half; ++i) {
                const float a = in[2 * i], b = in[2 * i + 1];
                out[2 * i] = a * cs[i] - b * sn[i];
                out[2 * i + 1] = a * sn[i] + b * cs[i];
            }
        }
        for (int64_t i = k.n_dims; i < hd; ++i) out[i] = in[i];
    }
}

}  // namespace hearth::cpu
