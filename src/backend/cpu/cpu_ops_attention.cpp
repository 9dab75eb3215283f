// CPU attention ops: rotary position embedding (normal / NeoX, YaRN) and fused flash attention
// (online softmax over KV tiles; each KV tile is converted to F32 once, or for a quantized K scored
// with the integer dot kernels against Q8-quantized queries, and reused by every query head of its
// GQA group and by a small block of query tokens). At the AVX-512 level a float K cache takes the
// register-blocked path of flash_attn_avx512.h instead.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_kv_rows.h"
#include "backend/cpu/cpu_simd.h"
#include "backend/cpu/flash_attn_avx512.h"
#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

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

// Flash-attention work decomposition: unit = (kv head, sub-group of its query heads, block of
// query tokens).
constexpr int64_t kTile = 64;   // KV rows per tile
constexpr int64_t kQBlock = 4;  // query tokens per unit

struct FaGeom {
    int64_t D, Dv, nq, nh, nhkv, group, gsub, n_sub, n_qb, units;
};

FaGeom fa_geom(const Tensor& dst, int nth) {
    const Tensor& q = *dst.src[0];
    const Tensor& k = *dst.src[1];
    const Tensor& v = *dst.src[2];
    FaGeom g;
    g.D = q.ne[0];
    g.Dv = v.ne[0];
    g.nq = q.ne[1];
    g.nh = q.ne[2];
    g.nhkv = k.ne[2];
    g.group = g.nh / g.nhkv;
    g.n_qb = (g.nq + kQBlock - 1) / kQBlock;
    // Split a GQA group into sub-groups only as far as needed to give every thread a unit (each
    // sub-group converts the KV tiles again).
    g.gsub = g.group;
    while (g.gsub > 1 && g.nhkv * g.n_qb * (g.group / g.gsub) < nth) {
        int64_t d = g.gsub - 1;
        while (d > 1 && g.group % d != 0) --d;
        g.gsub = d;
    }
    g.n_sub = g.group / g.gsub;
    g.units = g.nhkv * g.n_sub * g.n_qb;
    return g;
}

bool is_block_type(DType t) { return dtype_traits(t).block_elems > 1; }

// Per-thread scratch (floats): K tile [kTile][D] (float K only), V tile [kTile][Dv], query rows
// [rows][D], accumulators [rows][Dv], running max m[rows], running sum l[rows], scores
// [rows][kTile], then (quantized K only) the query rows quantized once per unit for the integer
// dot kernels, 64-byte aligned.
size_t fa_qq_bytes(const Tensor& k, const FaGeom& g) {
    return is_block_type(k.type) ? quantized_activation_bytes(k.type, g.D, g.gsub * kQBlock) + 64 : 0;
}

size_t fa_thread_floats(const FaGeom& g) {
    const int64_t rows = g.gsub * kQBlock;
    return static_cast<size_t>(kTile * g.D + kTile * g.Dv + rows * g.D + rows * g.Dv + 2 * rows + rows * kTile);
}

// One K or V row (any cache type) as n floats.
void load_row_f32(const Tensor& t, const char* p, float* out, int64_t n, Isa isa) {
#if defined(HEARTH_X86)
    if (t.type != DType::F32 && t.type != DType::F16 && use_avx2(isa) && avx2::kv_row_to_f32(t.type, p, out, n)) return;
#endif
    switch (t.type) {
        case DType::F32: std::memcpy(out, p, sizeof(float) * static_cast<size_t>(n)); break;
        case DType::F16: f16_to_f32(isa, reinterpret_cast<const uint16_t*>(p), out, n); break;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                out[i] = bf16_to_fp32(h);
            }
            break;
        default: quant::dequantize_row(t.type, p, out, n);
    }
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
    float* cs = reinterpret_cast<float*>(c.per_thread);
    float* sn = cs + half;
    int64_t r0, r1;
    split_range(nh * x.ne[2], c.ith, c.nth, r0, r1);
    int64_t cached_token = -1;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t h = r % nh, t = r / nh;
        if (t != cached_token) {
            rope_cache(k, pos[t], cs, sn);
            cached_token = t;
        }
        const float* in = reinterpret_cast<const float*>(x.row_ptr(h, t));
        float* out = reinterpret_cast<float*>(dst.row_ptr(h, t));
        if (k.neox) {
            for (int i = 0; i < half; ++i) {
                const float a = in[i], b = in[i + half];
                out[i] = a * cs[i] - b * sn[i];
                out[i + half] = a * sn[i] + b * cs[i];
            }
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

WorkSize flash_attn_work_size(const Tensor& node, int nth) {
    const FaGeom g = fa_geom(node, nth);
    size_t bytes = sizeof(float) * fa_thread_floats(g) + fa_qq_bytes(*node.src[1], g);
#if defined(HEARTH_X86)
    // The ISA level is not known here: room for the AVX-512 path too when it could take the node.
    if (avx512::flash_attn_supported(node)) bytes = std::max(bytes, avx512::flash_attn_plan(node, nth).bytes);
#endif
    return {0, bytes};
}

void op_flash_attn(Tensor& dst, const OpCtx& c) {
#if defined(HEARTH_X86)
    // Float K at the AVX-512 level: register-blocked tiles (flash_attn_avx512.cpp).
    if (c.isa == Isa::Avx512 && avx512::flash_attn_supported(dst))
        return avx512::flash_attn(dst, c, avx512::flash_attn_plan(dst, c.nth));
#endif
    const Tensor& q = *dst.src[0];
    const Tensor& k = *dst.src[1];
    const Tensor& v = *dst.src[2];
    const Tensor* mask = dst.src[3];
    const float scale = dst.param_f(0);
    const float softcap = dst.param_f(1);
    const FaGeom g = fa_geom(dst, c.nth);
    const int64_t n_kv = k.ne[1];
    // Quantized K: q rows are quantized once per unit and scored with the integer dot kernels
    // (what llama.cpp does); float K: each tile is converted to F32 once and shared by all rows.
    const bool k_quant = is_block_type(k.type);

    const int64_t max_rows = g.gsub * kQBlock;
    float* kt = reinterpret_cast<float*>(c.per_thread);
    float* vt = kt + kTile * g.D;
    float* qr = vt + kTile * g.Dv;
    float* acc = qr + max_rows * g.D;
    float* m = acc + max_rows * g.Dv;
    float* l = m + max_rows;
    float* sc = l + max_rows;  // [rows][kTile]
    void* qq = nullptr;
    if (k_quant) {
        const uintptr_t p = reinterpret_cast<uintptr_t>(sc + max_rows * kTile);
        qq = reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
    }

    for (int64_t u = c.ith; u < g.units; u += c.nth) {
        const int64_t qb = u % g.n_qb;
        const int64_t sub = (u / g.n_qb) % g.n_sub;
        const int64_t hk = u / (g.n_qb * g.n_sub);
        const int64_t q0 = qb * kQBlock, q1 = std::min(g.nq, q0 + kQBlock);
        const int64_t nqb = q1 - q0;
        const int64_t h0 = hk * g.group + sub * g.gsub;
        const int64_t rows = g.gsub * nqb;  // row index = hi * nqb + qi
        for (int64_t hi = 0; hi < g.gsub; ++hi)
            for (int64_t qi = 0; qi < nqb; ++qi) {
                const int64_t r = hi * nqb + qi;
                std::memcpy(qr + r * g.D, q.row_ptr(q0 + qi, h0 + hi), sizeof(float) * static_cast<size_t>(g.D));
                std::memset(acc + r * g.Dv, 0, sizeof(float) * static_cast<size_t>(g.Dv));
                m[r] = kNegInf;
                l[r] = 0.0f;
            }
        if (k_quant) quantize_activations(k.type, qr, g.D, g.D, 0, rows, qq);
        for (int64_t t0 = 0; t0 < n_kv; t0 += kTile) {
            const int64_t tn = std::min(kTile, n_kv - t0);
            // Skip the tile when every query of the block is masked on all of it.
            bool any_visible = mask == nullptr;
            for (int64_t qi = 0; qi < nqb && !any_visible; ++qi) {
                const float* mr = reinterpret_cast<const float*>(mask->row_ptr(q0 + qi)) + t0;
                for (int64_t j = 0; j < tn; ++j)
                    if (mr[j] != kNegInf) {
                        any_visible = true;
                        break;
                    }
            }
            if (!any_visible) continue;
            // Raw scores q.k on the tile: quantized K scores every row at once (sc[r * kTile + j]);
            // float K is converted once and scored row by row just before that row's softmax.
            if (k_quant) {
                matmul_quantized(k.type, k.row_ptr(t0, hk), k.nb[1], qq, g.D, rows, 0, tn, sc, kTile);
                for (int64_t j = 0; j < tn; ++j) load_row_f32(v, v.row_ptr(t0 + j, hk), vt + j * g.Dv, g.Dv, c.isa);
            } else {
                for (int64_t j = 0; j < tn; ++j) {
                    load_row_f32(k, k.row_ptr(t0 + j, hk), kt + j * g.D, g.D, c.isa);
                    load_row_f32(v, v.row_ptr(t0 + j, hk), vt + j * g.Dv, g.Dv, c.isa);
                }
            }
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t qi = r % nqb;
                const float* mr = mask ? reinterpret_cast<const float*>(mask->row_ptr(q0 + qi)) + t0 : nullptr;
                float* s = k_quant ? sc + r * kTile : sc;
                if (!k_quant) dot_rows(c.isa, qr + r * g.D, kt, tn, g.D, s);
                float tile_max = kNegInf;
                for (int64_t j = 0; j < tn; ++j) {
                    if (mr && mr[j] == kNegInf) {
                        s[j] = kNegInf;
                        continue;
                    }
                    float x = s[j] * scale;
                    if (softcap > 0.0f) x = softcap * std::tanh(x / softcap);
                    if (mr) x += mr[j];
                    s[j] = x;
                    tile_max = std::max(tile_max, x);
                }
                if (tile_max == kNegInf) continue;
                const float m_new = std::max(m[r], tile_max);
                const float corr = m[r] == kNegInf ? 0.0f : std::exp(m[r] - m_new);
                float* a = acc + r * g.Dv;
                if (corr != 1.0f)
                    for (int64_t d = 0; d < g.Dv; ++d) a[d] *= corr;
                const float lsum = l[r] * corr + exp_shifted_sum(c.isa, s, tn, m_new);  // s: probabilities
                acc_weighted_rows(c.isa, s, vt, tn, g.Dv, a);
                l[r] = lsum;
                m[r] = m_new;
            }
        }
        // Output [Dv, n_head, n_q]: row (head h, query i) at dst.row_ptr(h, i).
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t hi = r / nqb, qi = r % nqb;
            float* out = reinterpret_cast<float*>(dst.row_ptr(h0 + hi, q0 + qi));
            const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
            for (int64_t d = 0; d < g.Dv; ++d) out[d] = acc[r * g.Dv + d] * inv;
        }
    }
}

}  // namespace hearth::cpu
