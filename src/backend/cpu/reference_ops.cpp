// Scalar reference of every op: single-threaded, element-by-element through strides, double
// accumulation, formulas written out plainly (full softmax attention instead of online softmax,
// pow() per rope frequency). It is the truth the op tests compare backends against, not a fast path.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_ops.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

const char* at(const Tensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    return static_cast<const char*>(t.data) + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

double get(const Tensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    const char* p = at(t, i0, i1, i2, i3);
    switch (t.type) {
        case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
        case DType::F16: { uint16_t h; std::memcpy(&h, p, 2); return fp16_to_fp32(h); }
        case DType::BF16: { uint16_t h; std::memcpy(&h, p, 2); return bf16_to_fp32(h); }
        case DType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
        default: HEARTH_ASSERT_MSG(false, "reference: element access to a block type");
    }
    return 0;
}

void set(Tensor& t, double v, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
    char* p = const_cast<char*>(at(t, i0, i1, i2, i3));
    const float f = static_cast<float>(v);
    switch (t.type) {
        case DType::F32: std::memcpy(p, &f, 4); break;
        case DType::F16: { const uint16_t h = fp32_to_fp16(f); std::memcpy(p, &h, 2); break; }
        case DType::BF16: { const uint16_t h = fp32_to_bf16(f); std::memcpy(p, &h, 2); break; }
        case DType::I32: { const int32_t i = static_cast<int32_t>(v); std::memcpy(p, &i, 4); break; }
        default: HEARTH_ASSERT_MSG(false, "reference: element store to a block type");
    }
}

// Row i1 (dims 2,3 = i2,i3) of any dequantizable tensor as doubles.
std::vector<double> row(const Tensor& t, int64_t i1, int64_t i2, int64_t i3) {
    std::vector<double> r(static_cast<size_t>(t.ne[0]));
    if (dtype_traits(t.type).block_elems == 1) {
        for (int64_t i = 0; i < t.ne[0]; ++i) r[i] = get(t, i, i1, i2, i3);
    } else {
        std::vector<float> f(static_cast<size_t>(t.ne[0]));
        quant::dequantize_row(t.type, at(t, 0, i1, i2, i3), f.data(), t.ne[0]);
        for (int64_t i = 0; i < t.ne[0]; ++i) r[i] = f[i];
    }
    return r;
}

// mul_mat's activations meet F16/BF16 weights rounded to the weights' type (see core/ops.h).
double round_like(DType wtype, double v) {
    const float f = static_cast<float>(v);
    if (wtype == DType::F16) return fp16_to_fp32(fp32_to_fp16(f));
    if (wtype == DType::BF16) return bf16_to_fp32(fp32_to_bf16(f));
    return v;
}

template <class F>
void for_each(const Tensor& t, F f) {
    for (int64_t i3 = 0; i3 < t.ne[3]; ++i3)
        for (int64_t i2 = 0; i2 < t.ne[2]; ++i2)
            for (int64_t i1 = 0; i1 < t.ne[1]; ++i1)
                for (int64_t i0 = 0; i0 < t.ne[0]; ++i0) f(i0, i1, i2, i3);
}

double unary(OpKind op, double x, double p) {
    switch (op) {
        case OpKind::Scale: return x * p;
        case OpKind::Softcap: return p * std::tanh(x / p);
        case OpKind::Silu: return x / (1.0 + std::exp(-x));
        case OpKind::Gelu: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case OpKind::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case OpKind::Tanh: return std::tanh(x);
        default: HEARTH_ASSERT(false);
    }
    return 0;
}

void ref_rope(Tensor& d) {
    const Tensor& x = *d.src[0];
    const Tensor& pos = *d.src[1];
    const int n_dims = d.param_i(0);
    const bool neox = d.param_i(1) == 2;
    const int n_ctx_orig = d.param_i(2);
    const double base = d.param_f(3), fs = d.param_f(4), ext = d.param_f(5), attn = d.param_f(6);
    const double beta_fast = d.param_f(7), beta_slow = d.param_f(8);
    auto corr_dim = [&](double n_rot) { return n_dims * std::log(n_ctx_orig / (n_rot * 2 * M_PI)) / (2 * std::log(base)); };
    double low = 0, high = 0;
    if (ext != 0 && n_ctx_orig > 0) {
        low = std::max(0.0, std::floor(corr_dim(beta_fast)));
        high = std::min(n_dims - 1.0, std::ceil(corr_dim(beta_slow)));
    }
    for (int64_t t = 0; t < x.ne[2]; ++t) {
        const double p = get(pos, t);
        for (int64_t h = 0; h < x.ne[1]; ++h) {
            for (int64_t i = 0; i < x.ne[0]; ++i) set(d, get(x, i, h, t), i, h, t);
            for (int i = 0; i < n_dims / 2; ++i) {
                const double extrap = p * std::pow(base, -2.0 * i / n_dims);
                const double interp = fs * extrap;
                double theta = interp, mscale = attn;
                if (ext != 0) {
                    const double y = (i - low) / std::max(0.001, high - low);
                    const double mix = (1 - std::min(1.0, std::max(0.0, y))) * ext;
                    theta = interp * (1 - mix) + extrap * mix;
                    mscale *= 1 + 0.1 * std::log(1 / fs);
                }
                const int64_t ia = neox ? i : 2 * i, ib = neox ? i + n_dims / 2 : 2 * i + 1;
                const double a = get(x, ia, h, t), b = get(x, ib, h, t);
                set(d, (a * std::cos(theta) - b * std::sin(theta)) * mscale, ia, h, t);
                set(d, (a * std::sin(theta) + b * std::cos(theta)) * mscale, ib, h, t);
            }
        }
    }
}

void ref_softmax_row(std::vector<double>& v) {
    double mx = -INFINITY;
    for (double x : v) mx = std::max(mx, x);
    if (mx == -INFINITY) {
        for (double& x : v) x = 0;
        return;
    }
    double sum = 0;
    for (double& x : v) sum += (x = std::exp(x - mx));
    for (double& x : v) x /= sum;
}

void ref_flash_attn(Tensor& d) {
    const Tensor& q = *d.src[0];
    const Tensor& k = *d.src[1];
    const Tensor& v = *d.src[2];
    const Tensor* mask = d.src[3];
    const double scale = d.param_f(0), cap = d.param_f(1);
    const int64_t n_kv = k.ne[1], group = q.ne[2] / k.ne[2];
    for (int64_t h = 0; h < q.ne[2]; ++h)
        for (int64_t i = 0; i < q.ne[1]; ++i) {
            const int64_t hk = h / group;
            std::vector<double> s(static_cast<size_t>(n_kv));
            for (int64_t j = 0; j < n_kv; ++j) {
                const std::vector<double> kr = row(k, j, hk, 0);  // quantized K rows are dequantized exactly
                double dot = 0;
                for (int64_t e = 0; e < q.ne[0]; ++e) dot += get(q, e, i, h) * kr[size_t(e)];
                dot *= scale;
                if (cap > 0) dot = cap * std::tanh(dot / cap);
                s[j] = dot + (mask ? get(*mask, j, i) : 0.0);
            }
            ref_softmax_row(s);
            std::vector<double> acc(static_cast<size_t>(v.ne[0]), 0.0);
            for (int64_t j = 0; j < n_kv; ++j) {
                if (s[j] == 0) continue;
                const std::vector<double> vr = row(v, j, hk, 0);
                for (int64_t e = 0; e < v.ne[0]; ++e) acc[size_t(e)] += s[j] * vr[size_t(e)];
            }
            for (int64_t e = 0; e < v.ne[0]; ++e) set(d, acc[size_t(e)], e, h, i);
        }
}

}  // namespace

void compute_reference(Tensor& d) {
    const Tensor* a = d.src[0];
    const Tensor* b = d.src[1];
    switch (d.op) {
        case OpKind::None:
        case OpKind::View: return;
        case OpKind::Scale:
        case OpKind::Softcap:
        case OpKind::Silu:
        case OpKind::Gelu:
        case OpKind::GeluErf:
        case OpKind::Tanh:
            for_each(d, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
                set(d, unary(d.op, get(*a, i0, i1, i2, i3), d.param_f(0)), i0, i1, i2, i3);
            });
            return;
        case OpKind::Add:
        case OpKind::Mul:
        case OpKind::Div:
            for_each(d, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
                const double x = get(*a, i0, i1, i2, i3);
                const double y = get(*b, i0 % b->ne[0], i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]);
                set(d, d.op == OpKind::Add ? x + y : d.op == OpKind::Mul ? x * y : x / y, i0, i1, i2, i3);
            });
            return;
        case OpKind::Swiglu:
        case OpKind::Geglu:
            for_each(d, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
                const double x = get(*a, i0, i1, i2, i3);
                const double g = unary(d.op == OpKind::Swiglu ? OpKind::Silu : OpKind::Gelu, x, 0);
                set(d, g * get(*b, i0, i1, i2, i3), i0, i1, i2, i3);
            });
            return;
        case OpKind::RmsNorm:
        case OpKind::LayerNorm:
            for (int64_t i3 = 0; i3 < d.ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < d.ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < d.ne[1]; ++i1) {
                        std::vector<double> r = row(*a, i1, i2, i3);
                        const double n = static_cast<double>(r.size());
                        double mean = 0;
                        if (d.op == OpKind::LayerNorm) {
                            for (double x : r) mean += x;
                            mean /= n;
                        }
                        double ss = 0;
                        for (double x : r) ss += (x - mean) * (x - mean);
                        const double k = 1.0 / std::sqrt(ss / n + d.param_f(0));
                        for (int64_t i = 0; i < d.ne[0]; ++i) set(d, (r[i] - mean) * k, i, i1, i2, i3);
                    }
            return;
        case OpKind::Rope: ref_rope(d); return;
        case OpKind::SoftMax:
            for (int64_t i3 = 0; i3 < d.ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < d.ne[2]; ++i2)
                    for (int64_t i1 = 0; i1 < d.ne[1]; ++i1) {
                        std::vector<double> r = row(*a, i1, i2, i3);
                        for (int64_t i = 0; i < d.ne[0]; ++i) r[i] = r[i] * d.param_f(0) + (b ? get(*b, i, i1) : 0.0);
                        ref_softmax_row(r);
                        for (int64_t i = 0; i < d.ne[0]; ++i) set(d, r[i], i, i1, i2, i3);
                    }
            return;
        case OpKind::FlashAttn: ref_flash_attn(d); return;
        case OpKind::MulMat: {
            const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
            for (int64_t i3 = 0; i3 < d.ne[3]; ++i3)
                for (int64_t i2 = 0; i2 < d.ne[2]; ++i2)
                    for (int64_t i = 0; i < d.ne[0]; ++i) {
                        const std::vector<double> w = row(*a, i, i2 / r2, i3 / r3);
                        for (int64_t j = 0; j < d.ne[1]; ++j) {
                            double acc = 0;
                            for (int64_t e = 0; e < a->ne[0]; ++e) acc += w[e] * round_like(a->type, get(*b, e, j, i2, i3));
                            set(d, acc, i, j, i2, i3);
                        }
                    }
            return;
        }
        case OpKind::GetRows:
            for (int64_t i2 = 0; i2 < d.ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < d.ne[1]; ++i1) {
                    const int64_t id = static_cast<int64_t>(get(*b, i1, i2));
                    if (id < 0 || id >= a->ne[1]) throw Error(ErrorKind::InvalidArgument, "get_rows: row id out of range");
                    const std::vector<double> r = row(*a, id, 0, 0);
                    for (int64_t i = 0; i < d.ne[0]; ++i) set(d, r[i], i, i1, i2);
                }
            return;
        case OpKind::Cont:
        case OpKind::Cpy: {
            if (dtype_traits(d.type).block_elems > 1) {  // quantized destination: same shapes, row by row
                std::vector<float> f(static_cast<size_t>(d.ne[0]));
                for (int64_t r = 0; r < d.nrows(); ++r) {
                    const int64_t i1 = r % d.ne[1], i2 = (r / d.ne[1]) % d.ne[2], i3 = r / (d.ne[1] * d.ne[2]);
                    for (int64_t i = 0; i < d.ne[0]; ++i) f[size_t(i)] = static_cast<float>(get(*a, i, i1, i2, i3));
                    quant::quantize_row(d.type, f.data(), d.row_ptr(i1, i2, i3), d.ne[0]);
                }
                return;
            }
            // Logical element order: element e of the source goes to element e of the destination.
            int64_t e = 0;
            std::vector<double> flat(static_cast<size_t>(a->nelements()));
            for_each(*a, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) { flat[e++] = get(*a, i0, i1, i2, i3); });
            e = 0;
            for_each(d, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) { set(d, flat[e++], i0, i1, i2, i3); });
            return;
        }
        case OpKind::Concat: {
            const int dim = d.param_i(0);
            for_each(d, [&](int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
                int64_t i[4] = {i0, i1, i2, i3};
                const Tensor* s = a;
                if (i[dim] >= a->ne[dim]) {
                    i[dim] -= a->ne[dim];
                    s = b;
                }
                set(d, get(*s, i[0], i[1], i[2], i[3]), i0, i1, i2, i3);
            });
            return;
        }
        case OpKind::Argmax:
            for (int64_t r = 0; r < a->nrows(); ++r) {
                const int64_t i1 = r % a->ne[1], i2 = (r / a->ne[1]) % a->ne[2], i3 = r / (a->ne[1] * a->ne[2]);
                int64_t best = 0;
                for (int64_t i = 1; i < a->ne[0]; ++i)
                    if (get(*a, i, i1, i2, i3) > get(*a, best, i1, i2, i3)) best = i;
                set(d, static_cast<double>(best), r);
            }
            return;
        case OpKind::Count: break;
    }
    HEARTH_ASSERT_MSG(false, "compute_reference: unknown op");
}

}  // namespace hearth::cpu
