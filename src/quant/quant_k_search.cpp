// Least-squares searched encoders of the K-quant formats Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
// Two levels per 256-element super-block: every sub-block (16 or 32 elements) first gets its own
// best (scale, min) by fit_symmetric / fit_asymmetric; those are then quantized to small integers
// against fp16 super-block factors d (and dmin), and a refinement loop alternates
//   (1) trying each sub-block's integer scale/min ±1 with levels re-rounded, and
//   (2) a least-squares refit of d (and dmin) over the whole super-block for the chosen integers,
// keeping a change only when the (weighted) squared error of the exact dequantized values drops.
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/quant_blocks.h"
#include "quant/quant_impl.h"
#include "quant/quant_search.h"

namespace hearth::quant::detail {
namespace {

constexpr int kRefineRounds = 3;

// ---- asymmetric super-blocks: x = (d*sc)*L - (dmin*m), L in [0, nmax], sc/m in [0, smax] -------
struct AsymShape {
    int sub;    // elements per sub-block
    int nsub;   // sub-blocks per super-block
    int nmax;   // largest level
    int smax;   // largest integer scale / min
    int steps;  // candidate scales tried per sub-block: 2*steps+1
};

struct AsymCode {
    float d = 0, dmin = 0;  // fp16-representable
    int sc[16] = {}, m[16] = {};
    uint8_t L[kQKK] = {};
};

// Re-rounds the levels of sub-block j for the code's factors; returns its weighted squared error.
double assign_asym_sub(const AsymShape& s, const float* x, const float* w, int j, float d, float dmin, int sc,
                       int m, uint8_t* L) {
    const float ds = d * static_cast<float>(sc);
    const float dm = dmin * static_cast<float>(m);
    const float inv = ds != 0 ? 1.0f / ds : 0.0f;
    double err = 0;
    for (int i = j * s.sub; i < (j + 1) * s.sub; ++i) {
        const int q = clamp_round((x[i] + dm) * inv, 0, s.nmax);
        L[i] = static_cast<uint8_t>(q);
        const double e = double(ds * static_cast<float>(q) - dm) - x[i];
        err += w[i] * e * e;
    }
    return err;
}

double assign_asym(const AsymShape& s, const float* x, const float* w, AsymCode& c) {
    double err = 0;
    for (int j = 0; j < s.nsub; ++j) err += assign_asym_sub(s, x, w, j, c.d, c.dmin, c.sc[j], c.m[j], c.L);
    return err;
}

void encode_asym(const AsymShape& s, const float* x, const float* w, AsymCode& best) {
    float a[16], mn[16];
    uint8_t L[kQKK];
    for (int j = 0; j < s.nsub; ++j) {
        float b;
        fit_asymmetric(x + j * s.sub, w + j * s.sub, s.sub, s.nmax, true, L + j * s.sub, &a[j], &b, s.steps);
        mn[j] = -b;
    }
    const float max_a = *std::max_element(a, a + s.nsub);
    const float max_m = *std::max_element(mn, mn + s.nsub);
    AsymCode c;
    c.d = fp16_round(max_a / static_cast<float>(s.smax));
    c.dmin = fp16_round(max_m / static_cast<float>(s.smax));
    for (int j = 0; j < s.nsub; ++j) {
        c.sc[j] = c.d > 0 ? clamp_round(a[j] / c.d, 0, s.smax) : 0;
        c.m[j] = c.dmin > 0 ? clamp_round(mn[j] / c.dmin, 0, s.smax) : 0;
    }
    double err = assign_asym(s, x, w, c);
    for (int round = 0; round < kRefineRounds; ++round) {
        bool changed = false;
        // (1) integer scale/min tweaks per sub-block.
        for (int j = 0; j < s.nsub; ++j) {
            const int sc0 = c.sc[j], m0 = c.m[j];
            double cur = assign_asym_sub(s, x, w, j, c.d, c.dmin, sc0, m0, L);
            int bsc = sc0, bm = m0;
            for (int dsc = -1; dsc <= 1; ++dsc) {
                for (int dm = -1; dm <= 1; ++dm) {
                    const int sc = sc0 + dsc, m = m0 + dm;
                    if ((dsc == 0 && dm == 0) || sc < 0 || sc > s.smax || m < 0 || m > s.smax) continue;
                    const double e = assign_asym_sub(s, x, w, j, c.d, c.dmin, sc, m, L);
                    if (e < cur) {
                        cur = e;
                        bsc = sc;
                        bm = m;
                    }
                }
            }
            if (bsc != sc0 || bm != m0) {
                changed = true;
                c.sc[j] = bsc;
                c.m[j] = bm;
            }
        }
        if (changed) err = assign_asym(s, x, w, c);
        // (2) least-squares refit of d and dmin: x ≈ d*u - dmin*v with u = sc*L, v = m.
        double suu = 0, suv = 0, svv = 0, sux = 0, svx = 0;
        for (int i = 0; i < s.sub * s.nsub; ++i) {
            const double u = double(c.sc[i / s.sub]) * c.L[i], v = c.m[i / s.sub];
            suu += w[i] * u * u;
            suv += w[i] * u * v;
            svv += w[i] * v * v;
            sux += w[i] * u * x[i];
            svx += w[i] * v * x[i];
        }
        // Minimize sum w (d u - e v - x)^2 over d, e.
        const double det = suu * svv - suv * suv;
        if (det > 0) {
            double d = (sux * svv - suv * svx) / det;
            double e = (sux * suv - suu * svx) / det;
            if (e < 0) {
                e = 0;
                d = suu > 0 ? sux / suu : 0;
            }
            AsymCode t = c;
            t.d = fp16_round(static_cast<float>(std::max(d, 0.0)));
            t.dmin = fp16_round(static_cast<float>(e));
            if (t.d != c.d || t.dmin != c.dmin) {
                const double terr = assign_asym(s, x, w, t);
                if (terr < err) {
                    c = t;
                    err = terr;
                    changed = true;
                }
            }
        }
        if (!changed) break;
    }
    best = c;
}

// ---- symmetric super-blocks: x = (d*sc)*L, L in [lo, hi], sc in [slo, shi] ------------------
struct SymShape {
    int lo, hi;    // levels
    int slo, shi;  // integer scales
    int steps;     // candidate scales tried per side per sub-block: 2*steps+1
};
constexpr int kSymSub = 16;
constexpr int kSymNSub = 16;

struct SymCode {
    float d = 0;
    int sc[16] = {};
    int8_t L[kQKK] = {};
};

double assign_sym_sub(const SymShape& s, const float* x, const float* w, int j, float d, int sc, int8_t* L) {
    const float ds = d * static_cast<float>(sc);
    const float inv = ds != 0 ? 1.0f / ds : 0.0f;
    double err = 0;
    for (int i = j * kSymSub; i < (j + 1) * kSymSub; ++i) {
        const int q = clamp_round(x[i] * inv, s.lo, s.hi);
        L[i] = static_cast<int8_t>(q);
        const double e = double(ds * static_cast<float>(q)) - x[i];
        err += w[i] * e * e;
    }
    return err;
}

double assign_sym(const SymShape& s, const float* x, const float* w, SymCode& c) {
    double err = 0;
    for (int j = 0; j < kSymNSub; ++j) err += assign_sym_sub(s, x, w, j, c.d, c.sc[j], c.L);
    return err;
}

double refine_sym(const SymShape& s, const float* x, const float* w, SymCode& c) {
    int8_t L[kQKK];
    double err = assign_sym(s, x, w, c);
    for (int round = 0; round < kRefineRounds; ++round) {
        bool changed = false;
        for (int j = 0; j < kSymNSub; ++j) {
            const int sc0 = c.sc[j];
            double cur = assign_sym_sub(s, x, w, j, c.d, sc0, c.L);
            int bsc = sc0;
            for (int dsc = -2; dsc <= 2; ++dsc) {
                const int sc = sc0 + dsc;
                if (dsc == 0 || sc < s.slo || sc > s.shi) continue;
                const double e = assign_sym_sub(s, x, w, j, c.d, sc, L);
                if (e < cur) {
                    cur = e;
                    bsc = sc;
                }
            }
            if (bsc != sc0) {
                changed = true;
                c.sc[j] = bsc;
                assign_sym_sub(s, x, w, j, c.d, bsc, c.L);
            }
        }
        if (changed) err = assign_sym(s, x, w, c);
        double suu = 0, sux = 0;
        for (int i = 0; i < kQKK; ++i) {
            const double u = double(c.sc[i / kSymSub]) * c.L[i];
            suu += w[i] * u * u;
            sux += w[i] * u * x[i];
        }
        if (suu > 0) {
            SymCode t = c;
            t.d = fp16_round(static_cast<float>(sux / suu));
            if (t.d != c.d) {
                const double terr = assign_sym(s, x, w, t);
                if (terr < err) {
                    c = t;
                    err = terr;
                    changed = true;
                }
            }
        }
        if (!changed) break;
    }
    return err;
}

void encode_sym(const SymShape& s, const float* x, const float* w, SymCode& best) {
    float a[kSymNSub];
    int8_t L[kQKK];
    float amax = 0, maxv = 0;
    for (int j = 0; j < kSymNSub; ++j) {
        a[j] = fit_symmetric(x + j * kSymSub, w + j * kSymSub, kSymSub, s.lo, s.hi, L + j * kSymSub, s.steps);
        if (std::fabs(a[j]) > amax) {
            amax = std::fabs(a[j]);
            maxv = a[j];
        }
    }
    best = SymCode{};
    if (!(amax > 0)) return;
    // Two ways to spread the sub-block scales over the integer range: the largest onto slo
    // (negative d when it is positive) or onto shi. Refine the one that starts with the lower error.
    double best_err = std::numeric_limits<double>::infinity();
    for (const float target : {static_cast<float>(s.slo), static_cast<float>(s.shi)}) {
        SymCode c;
        c.d = fp16_round(maxv / target);
        if (c.d == 0 || !std::isfinite(c.d)) continue;
        for (int j = 0; j < kSymNSub; ++j) c.sc[j] = clamp_round(a[j] / c.d, s.slo, s.shi);
        const double err = assign_sym(s, x, w, c);
        if (err < best_err) {
            best_err = err;
            best = c;
        }
    }
    if (best.d != 0) refine_sym(s, x, w, best);
}

}  // namespace

void quantize_q2_k(const float* src, void* dst, int64_t n, const float* importance) {
    const AsymShape shape{16, 16, 3, 15, 15};
    float w[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        block_weights(importance, i * kQKK, kQKK, w);
        AsymCode c;
        encode_asym(shape, src + i * kQKK, w, c);
        BlockQ2_K b{};
        b.d = fp32_to_fp16(c.d);
        b.dmin = fp32_to_fp16(c.dmin);
        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(c.sc[j] | (c.m[j] << 4));
        for (int e = 0; e < kQKK; ++e) {
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b.qs[h * 32 + l] |= static_cast<uint8_t>((c.L[e] & 3) << (2 * s));
        }
        store_block(dst, i, b);
    }
}

void quantize_q4_k(const float* src, void* dst, int64_t n, const float* importance) {
    const AsymShape shape{32, 8, 15, 63, 20};
    float w[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        block_weights(importance, i * kQKK, kQKK, w);
        AsymCode c;
        encode_asym(shape, src + i * kQKK, w, c);
        BlockQ4_K b{};
        b.d = fp32_to_fp16(c.d);
        b.dmin = fp32_to_fp16(c.dmin);
        pack_scale_min_k4(b.scales, c.sc, c.m);
        for (int e = 0; e < kQKK; ++e) {
            const int sb = e / 32, l = e % 32;
            b.qs[(sb / 2) * 32 + l] |= static_cast<uint8_t>((c.L[e] & 0x0F) << (4 * (sb % 2)));
        }
        store_block(dst, i, b);
    }
}

void quantize_q5_k(const float* src, void* dst, int64_t n, const float* importance) {
    const AsymShape shape{32, 8, 31, 63, 15};
    float w[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        block_weights(importance, i * kQKK, kQKK, w);
        AsymCode c;
        encode_asym(shape, src + i * kQKK, w, c);
        BlockQ5_K b{};
        b.d = fp32_to_fp16(c.d);
        b.dmin = fp32_to_fp16(c.dmin);
        pack_scale_min_k4(b.scales, c.sc, c.m);
        for (int e = 0; e < kQKK; ++e) {
            const int sb = e / 32, l = e % 32;
            b.qs[(sb / 2) * 32 + l] |= static_cast<uint8_t>((c.L[e] & 0x0F) << (4 * (sb % 2)));
            b.qh[l] |= static_cast<uint8_t>(((c.L[e] >> 4) & 1) << sb);
        }
        store_block(dst, i, b);
    }
}

void quantize_q3_k(const float* src, void* dst, int64_t n, const float* importance) {
    const SymShape shape{-4, 3, -32, 31, 10};
    float w[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        block_weights(importance, i * kQKK, kQKK, w);
        SymCode c;
        encode_sym(shape, src + i * kQKK, w, c);
        BlockQ3_K b{};
        b.d = fp32_to_fp16(c.d);
        int stored[16];
        for (int j = 0; j < 16; ++j) stored[j] = c.sc[j] + 32;
        pack_scales_q3k(b.scales, stored);
        for (int e = 0; e < kQKK; ++e) {
            const int q = c.L[e] + 4;  // 0..7: low 2 bits in qs, bit 2 in hmask
            const int h = e / 128, s = (e / 32) % 4, l = e % 32;
            b.qs[h * 32 + l] |= static_cast<uint8_t>((q & 3) << (2 * s));
            b.hmask[l] |= static_cast<uint8_t>(((q >> 2) & 1) << (e / 32));
        }
        store_block(dst, i, b);
    }
}

void quantize_q6_k(const float* src, void* dst, int64_t n, const float* importance) {
    const SymShape shape{-32, 31, -128, 127, 8};
    float w[kQKK];
    for (int64_t i = 0; i < n / kQKK; ++i) {
        block_weights(importance, i * kQKK, kQKK, w);
        SymCode c;
        encode_sym(shape, src + i * kQKK, w, c);
        BlockQ6_K b{};
        b.d = fp32_to_fp16(c.d);
        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(c.sc[j]);
        for (int e = 0; e < kQKK; ++e) {
            const int q = c.L[e] + 32;  // 0..63
            const int h = e / 128, r = e % 128;
            b.ql[h * 64 + r % 64] |= static_cast<uint8_t>((q & 0x0F) << (4 * (r / 64)));
            b.qh[h * 32 + r % 32] |= static_cast<uint8_t>((q >> 4) << (2 * (r / 32)));
        }
        store_block(dst, i, b);
    }
}

}  // namespace hearth::quant::detail
