// CPU element-wise and row-wise ops: unary activations, broadcasting add/mul/div, fused gated
// activations, RMS/layer norm, softmax with mask, argmax. Rows are split across threads; the
// destination is always contiguous F32, sources may be strided views.
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_rows.h"
#include "backend/cpu/cpu_simd.h"
#include "core/error.h"

namespace hearth::cpu {
namespace {

struct RowIndex {
    int64_t i1, i2, i3;
};
inline RowIndex unravel_row(const Tensor& t, int64_t r) {
    return {r % t.ne[1], (r / t.ne[1]) % t.ne[2], r / (t.ne[1] * t.ne[2])};
}

// Load row (i1,i2,i3) of an F32 tensor into a pointer usable with unit stride: returns the row
// itself when packed, else gathers into tmp.
inline const float* f32_row(const Tensor& t, RowIndex ri, float* tmp) {
    const char* p = t.row_ptr(ri.i1, ri.i2, ri.i3);
    if (t.nb[0] == sizeof(float)) return reinterpret_cast<const float*>(p);
    for (int64_t i = 0; i < t.ne[0]; ++i) tmp[i] = *reinterpret_cast<const float*>(p + i * t.nb[0]);
    return tmp;
}

}  // namespace

void op_unary(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const int64_t n = dst.ne[0];
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    const float p = dst.param_f(0);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(dst, r);
        float* y = reinterpret_cast<float*>(dst.row_ptr(ri.i1, ri.i2, ri.i3));
        const char* xp = a.row_ptr(ri.i1, ri.i2, ri.i3);
        const size_t s = a.nb[0];
        auto x = [&](int64_t i) { return *reinterpret_cast<const float*>(xp + i * s); };
        switch (dst.op) {
            case OpKind::Scale:
                for (int64_t i = 0; i < n; ++i) y[i] = x(i) * p;
                break;
            case OpKind::Softcap: {
                const float inv = 1.0f / p;
                for (int64_t i = 0; i < n; ++i) y[i] = p * std::tanh(x(i) * inv);
                break;
            }
            case OpKind::Silu:
                for (int64_t i = 0; i < n; ++i) y[i] = silu(x(i));
                break;
            case OpKind::Gelu:
                for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh(x(i));
                break;
            case OpKind::GeluErf:
                for (int64_t i = 0; i < n; ++i) y[i] = gelu_erf(x(i));
                break;
            case OpKind::Tanh:
                for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x(i));
                break;
            default: HEARTH_ASSERT_MSG(false, "op_unary: wrong op");
        }
    }
}

void op_binary(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const Tensor& b = *dst.src[1];
    const int64_t n = dst.ne[0];
    const int64_t nb0 = b.ne[0];
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(dst, r);
        float* y = reinterpret_cast<float*>(dst.row_ptr(ri.i1, ri.i2, ri.i3));
        const char* xa = a.row_ptr(ri.i1, ri.i2, ri.i3);
        const char* xb = b.row_ptr(ri.i1 % b.ne[1], ri.i2 % b.ne[2], ri.i3 % b.ne[3]);
        const bool packed = a.nb[0] == sizeof(float) && b.nb[0] == sizeof(float) && nb0 == n;
        if (packed) {
            const float* pa = reinterpret_cast<const float*>(xa);
            const float* pb = reinterpret_cast<const float*>(xb);
            switch (dst.op) {
                case OpKind::Add: binary_row(c.isa, RowOp::Add, pa, pb, y, n); break;
                case OpKind::Mul: binary_row(c.isa, RowOp::Mul, pa, pb, y, n); break;
                case OpKind::Div: binary_row(c.isa, RowOp::Div, pa, pb, y, n); break;
                default: HEARTH_ASSERT_MSG(false, "op_binary: wrong op");
            }
            continue;
        }
        for (int64_t i = 0; i < n; ++i) {
            const float va = *reinterpret_cast<const float*>(xa + i * a.nb[0]);
            const float vb = *reinterpret_cast<const float*>(xb + (i % nb0) * b.nb[0]);
            y[i] = dst.op == OpKind::Add ? va + vb : dst.op == OpKind::Mul ? va * vb : va / vb;
        }
    }
}

void op_gated(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const Tensor& b = *dst.src[1];
    const int64_t n = dst.ne[0];
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(dst, r);
        float* y = reinterpret_cast<float*>(dst.row_ptr(ri.i1, ri.i2, ri.i3));
        const char* xa = a.row_ptr(ri.i1, ri.i2, ri.i3);
        const char* xb = b.row_ptr(ri.i1, ri.i2, ri.i3);
#if defined(HEARTH_X86)
        if (use_avx2(c.isa) && a.nb[0] == sizeof(float) && b.nb[0] == sizeof(float)) {
            avx2::gated_row(dst.op == OpKind::Geglu, reinterpret_cast<const float*>(xa), reinterpret_cast<const float*>(xb), y, n);
            continue;
        }
#endif
        for (int64_t i = 0; i < n; ++i) {
            const float va = *reinterpret_cast<const float*>(xa + i * a.nb[0]);
            const float vb = *reinterpret_cast<const float*>(xb + i * b.nb[0]);
            y[i] = (dst.op == OpKind::Swiglu ? silu(va) : gelu_tanh(va)) * vb;
        }
    }
}


void op_norm(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const int64_t n = dst.ne[0];
    const float eps = dst.param_f(0);
    // A fused rms_norm x weight (cpu_fusion.h) carries the F32 weight row as src[1].
    const float* weight = dst.op == OpKind::RmsNorm && dst.src[1] ? static_cast<const float*>(dst.src[1]->data) : nullptr;
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(dst, r);
        float* y = reinterpret_cast<float*>(dst.row_ptr(ri.i1, ri.i2, ri.i3));
        const float* x = f32_row(a, ri, y);  // gathering into y is safe: y is rewritten below
        if (dst.op == OpKind::RmsNorm) {
            const double ss = sum_f64(c.isa, x, n, 0.0f, true);
            const float k = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
            if (weight)
                scale_mul_row(c.isa, x, k, weight, y, n);
            else
                scale_row(c.isa, x, k, y, n);
        } else {
            const float mean = static_cast<float>(sum_f64(c.isa, x, n, 0.0f, false) / static_cast<double>(n));
            const double var = sum_f64(c.isa, x, n, mean, true);
            const float k = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(n) + eps));
            for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * k;
        }
    }
}

void op_soft_max(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const Tensor* mask = dst.src[1];
    const int64_t n = dst.ne[0];
    const float scale = dst.param_f(0);
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(dst, r);
        float* y = reinterpret_cast<float*>(dst.row_ptr(ri.i1, ri.i2, ri.i3));
        const float* x = f32_row(a, ri, y);
        const float* m = mask ? reinterpret_cast<const float*>(mask->row_ptr(ri.i1)) : nullptr;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < n; ++i) {
            const float v = x[i] * scale + (m ? m[i] : 0.0f);
            y[i] = v;
            mx = std::max(mx, v);
        }
        if (mx == -std::numeric_limits<float>::infinity()) {
            for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const float e = std::exp(y[i] - mx);
            y[i] = e;
            sum += e;
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t i = 0; i < n; ++i) y[i] *= inv;
    }
}

void op_argmax(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    int64_t r0, r1;
    split_range(a.nrows(), c.ith, c.nth, r0, r1);
    int32_t* out = static_cast<int32_t*>(dst.data);
    for (int64_t r = r0; r < r1; ++r) {
        const RowIndex ri = unravel_row(a, r);
        const char* p = a.row_ptr(ri.i1, ri.i2, ri.i3);
        int64_t best = 0;
        float bv = *reinterpret_cast<const float*>(p);
        for (int64_t i = 1; i < a.ne[0]; ++i) {
            const float v = *reinterpret_cast<const float*>(p + i * a.nb[0]);
            if (v > bv) {
                bv = v;
                best = i;
            }
        }
        out[r] = static_cast<int32_t>(best);
    }
}

}  // namespace hearth::cpu
