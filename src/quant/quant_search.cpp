// Weighted least-squares scale searches used by the reference quantizers (see quant_search.h).
#include "quant/quant_search.h"

#include "quant/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hearth::quant {
namespace {

constexpr float kTiny = 1e-30f;

// Least-squares a for fixed levels (x ≈ a L): returns the weighted error, writes *a.
double refit_symmetric(const float* x, const float* w, int n, const int8_t* L, float* a) {
    double sxx = 0, sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
        sxx += double(w[i]) * x[i] * x[i];
        sxl += double(w[i]) * x[i] * L[i];
        sll += double(w[i]) * L[i] * L[i];
    }
    if (sll <= 0) {
        *a = 0;
        return sxx;
    }
    *a = static_cast<float>(sxl / sll);
    return std::max(0.0, sxx - sxl * sxl / sll);
}

}  // namespace

void block_weights(const float* importance, int64_t offset, int n, float* w) {
    for (int i = 0; i < n; ++i) w[i] = importance ? std::max(importance[offset + i], 0.0f) : 1.0f;
}

float fit_symmetric(const float* x, const float* w, int n, int lo, int hi, int8_t* L, int nsteps) {
    float amax = 0, maxv = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            maxv = x[i];
        }
    }
    if (!(amax > kTiny)) {
        std::fill(L, L + n, int8_t{0});
        return 0;
    }
    int8_t cand[256];
    float wx[256];
    for (int i = 0; i < n; ++i) wx[i] = w[i] * x[i];
    // For fixed levels L the best a is sum(w x L) / sum(w L^2) and the error is
    // sum(w x^2) - sum(w x L)^2 / sum(w L^2): candidates are ranked by the last ratio.
    float best_score = -1.0f;
    float best_a = 0;
    // Map the extreme value onto level t for t near lo and near hi.
    for (int side = 0; side < 2; ++side) {
        const float base = side == 0 ? static_cast<float>(lo) : static_cast<float>(hi);
        for (int k = -nsteps; k <= nsteps; ++k) {
            const float t = base + 0.1f * static_cast<float>(k);
            if (std::fabs(t) < 0.5f) continue;
            const float inv = t / maxv;
            float sxl = 0, sll = 0;
            for (int i = 0; i < n; ++i) {
                const int q = clamp_round(x[i] * inv, lo, hi);
                cand[i] = static_cast<int8_t>(q);
                sxl += wx[i] * static_cast<float>(q);
                sll += w[i] * static_cast<float>(q * q);
            }
            if (!(sll > 0)) continue;
            const float score = sxl * sxl / sll;
            if (score > best_score) {
                best_score = score;
                best_a = sxl / sll;
                std::copy(cand, cand + n, L);
            }
        }
    }
    double best_err = std::numeric_limits<double>::infinity();
    if (best_score >= 0) best_err = refit_symmetric(x, w, n, L, &best_a);
    // Alternate nearest-level assignment and least-squares refit.
    for (int iter = 0; iter < 8 && best_a != 0; ++iter) {
        const float inv = 1.0f / best_a;
        bool changed = false;
        for (int i = 0; i < n; ++i) {
            cand[i] = static_cast<int8_t>(clamp_round(x[i] * inv, lo, hi));
            changed |= cand[i] != L[i];
        }
        if (!changed) break;
        float a;
        const double err = refit_symmetric(x, w, n, cand, &a);
        if (!(err < best_err)) break;
        best_err = err;
        best_a = a;
        std::copy(cand, cand + n, L);
    }
    return best_a;
}

namespace {

// Weighted sums of one candidate level assignment.
struct AsymSums {
    float sw = 0, sl = 0, sll = 0, sx = 0, slx = 0;
};

// Least-squares (a, b) for the sums (b clamped <= 0 when nonpositive, a >= 0); returns the
// weighted error sum w (a L + b - x)^2, expanded in the sums (sxx = sum w x^2).
double solve_asymmetric(const AsymSums& s, double sxx, bool nonpositive, float* a, float* b) {
    const double det = double(s.sw) * s.sll - double(s.sl) * s.sl;
    double da, db;
    if (det > 1e-12 * double(s.sw) * s.sll) {
        da = (double(s.sw) * s.slx - double(s.sl) * s.sx) / det;
        db = (double(s.sll) * s.sx - double(s.sl) * s.slx) / det;
    } else {  // all levels equal: only an offset
        da = 0;
        db = s.sw > 0 ? s.sx / s.sw : 0;
    }
    if (nonpositive && db > 0) {
        db = 0;
        da = s.sll > 0 ? s.slx / s.sll : 0;
    }
    if (da < 0) {
        da = 0;
        db = s.sw > 0 ? s.sx / s.sw : 0;
        if (nonpositive && db > 0) db = 0;
    }
    *a = static_cast<float>(da);
    *b = static_cast<float>(db);
    const double err = sxx - 2 * da * s.slx - 2 * db * s.sx + da * da * s.sll + 2 * da * db * s.sl + db * db * s.sw;
    return std::max(0.0, err);
}

AsymSums assign_asymmetric(const float* x, const float* w, int n, int nmax, float offset, float iscale,
                           uint8_t* L) {
    AsymSums s;
    for (int i = 0; i < n; ++i) {
        const int q = clamp_round((x[i] - offset) * iscale, 0, nmax);
        L[i] = static_cast<uint8_t>(q);
        const float fq = static_cast<float>(q);
        s.sw += w[i];
        s.sl += w[i] * fq;
        s.sll += w[i] * fq * fq;
        s.sx += w[i] * x[i];
        s.slx += w[i] * fq * x[i];
    }
    return s;
}

}  // namespace

void fit_asymmetric(const float* x, const float* w, int n, int nmax, bool nonpositive_offset, uint8_t* L,
                    float* a, float* b, int nsteps) {
    float xmin = x[0], xmax = x[0];
    for (int i = 1; i < n; ++i) {
        xmin = std::min(xmin, x[i]);
        xmax = std::max(xmax, x[i]);
    }
    if (nonpositive_offset) xmin = std::min(xmin, 0.0f);
    if (!(xmax - xmin > kTiny)) {
        std::fill(L, L + n, uint8_t{0});
        *a = 0;
        *b = xmin;
        return;
    }
    double sxx = 0;
    for (int i = 0; i < n; ++i) sxx += double(w[i]) * x[i] * x[i];
    uint8_t cand[256];
    double best_err = std::numeric_limits<double>::infinity();
    float best_a = 0, best_b = xmin;
    for (int k = -nsteps; k <= nsteps; ++k) {
        const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(k)) / (xmax - xmin);
        if (!(iscale > 0)) continue;
        const AsymSums sums = assign_asymmetric(x, w, n, nmax, xmin, iscale, cand);
        float ca, cb;
        const double err = solve_asymmetric(sums, sxx, nonpositive_offset, &ca, &cb);
        if (err < best_err) {
            best_err = err;
            best_a = ca;
            best_b = cb;
            std::copy(cand, cand + n, L);
        }
    }
    for (int iter = 0; iter < 8 && best_a > 0; ++iter) {
        const AsymSums sums = assign_asymmetric(x, w, n, nmax, best_b, 1.0f / best_a, cand);
        if (std::equal(cand, cand + n, L)) break;
        float ca, cb;
        const double err = solve_asymmetric(sums, sxx, nonpositive_offset, &ca, &cb);
        if (!(err < best_err)) break;
        best_err = err;
        best_a = ca;
        best_b = cb;
        std::copy(cand, cand + n, L);
    }
    *a = best_a;
    *b = best_b;
}

namespace {

double refit_levels(const float* x, const float* w, int n, const LevelTable& levels, const uint8_t* L, float* a) {
    double sxx = 0, sxl = 0, sll = 0;
    for (int i = 0; i < n; ++i) {
        const double q = levels.level(L[i]);
        sxx += double(w[i]) * x[i] * x[i];
        sxl += double(w[i]) * x[i] * q;
        sll += double(w[i]) * q * q;
    }
    if (sll <= 0) {
        *a = 0;
        return sxx;
    }
    *a = static_cast<float>(sxl / sll);
    return std::max(0.0, sxx - sxl * sxl / sll);
}

}  // namespace

LevelTable::LevelTable(const int8_t* levels, int n_levels) : levels_(levels), n_(n_levels) {
    for (int i = 0; i < 512; ++i) {
        const float v = (static_cast<float>(i - 256) + 0.5f) * 0.5f;  // centre of the half-unit cell
        int best = 0;
        for (int k = 1; k < n_levels; ++k)
            if (std::fabs(v - levels[k]) < std::fabs(v - levels[best])) best = k;
        index_[i] = static_cast<uint8_t>(best);
    }
}

float fit_levels(const float* x, const float* w, int n, const LevelTable& levels, uint8_t* L, int nsteps) {
    float amax = 0, maxv = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            maxv = x[i];
        }
    }
    const int zero = levels.nearest(0.0f);
    if (!(amax > kTiny)) {
        std::fill(L, L + n, static_cast<uint8_t>(zero));
        return 0;
    }
    uint8_t cand[256];
    double best_err = std::numeric_limits<double>::infinity();
    float best_a = 0;
    std::fill(L, L + n, static_cast<uint8_t>(zero));
    for (int side = 0; side < 2; ++side) {
        const float base = side == 0 ? levels.level(0) : levels.level(levels.size() - 1);
        for (int k = -nsteps; k <= nsteps; ++k) {
            const float t = base * (1.0f + 0.01f * static_cast<float>(k));
            const float inv = t / maxv;
            for (int i = 0; i < n; ++i) cand[i] = static_cast<uint8_t>(levels.nearest(x[i] * inv));
            float a;
            const double err = refit_levels(x, w, n, levels, cand, &a);
            if (err < best_err) {
                best_err = err;
                best_a = a;
                std::copy(cand, cand + n, L);
            }
        }
    }
    for (int iter = 0; iter < 8 && best_a != 0; ++iter) {
        const float inv = 1.0f / best_a;
        bool changed = false;
        for (int i = 0; i < n; ++i) {
            cand[i] = static_cast<uint8_t>(levels.nearest(x[i] * inv));
            changed |= cand[i] != L[i];
        }
        if (!changed) break;
        float a;
        const double err = refit_levels(x, w, n, levels, cand, &a);
        if (!(err < best_err)) break;
        best_err = err;
        best_a = a;
        std::copy(cand, cand + n, L);
    }
    return best_a;
}

}  // namespace hearth::quant
