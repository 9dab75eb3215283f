// CPU attention op: fused flash attention (rotary position embedding is in cpu_ops_rope.cpp)
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
    g.gsub = gqa_subgroup(g.group, g.nhkv, g.n_qb, nth);
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
    // A Q8_0 / Q4_0 / IQ4_NL V at the AVX-512 level is accumulated straight from the cache
    // (acc_rows_v_direct, the same bits) instead of being converted tile by tile (units of up to
    // kMaxDirectRows rows).
    constexpr int64_t kMaxDirectRows = 64;
#if defined(HEARTH_X86)
    const bool v_direct = k_quant && c.isa == Isa::Avx512 && avx512::acc_rows_v_direct_supported(v.type, g.Dv) &&
                          g.gsub * kQBlock <= kMaxDirectRows;
#else
    const bool v_direct = false;
#endif

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
            if (k_quant) matmul_quantized(k.type, k.row_ptr(t0, hk), k.nb[1], qq, g.D, rows, 0, tn, sc, kTile);
            for (int64_t j = 0; j < tn; ++j) {
                if (!k_quant) load_row_f32(k, k.row_ptr(t0 + j, hk), kt + j * g.D, g.D, c.isa);
                if (!v_direct) load_row_f32(v, v.row_ptr(t0 + j, hk), vt + j * g.Dv, g.Dv, c.isa);
            }
            // v_direct: the rows whose probabilities are ready, accumulated together after the loop.
            const float* live_p[kMaxDirectRows];
            float* live_acc[kMaxDirectRows];
            int n_live = 0;
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
                if (v_direct) {
                    live_p[n_live] = s;
                    live_acc[n_live++] = a;
                } else {
                    acc_weighted_rows(c.isa, s, vt, tn, g.Dv, a);
                }
                l[r] = lsum;
                m[r] = m_new;
            }
#if defined(HEARTH_X86)
            if (n_live > 0) avx512::acc_rows_v_direct(v.type, live_p, live_acc, n_live, v.row_ptr(t0, hk), v.nb[1], tn, g.Dv);
#endif
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
