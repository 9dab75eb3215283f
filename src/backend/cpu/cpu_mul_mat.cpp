// CPU mul_mat: dst[M, N, X2, X3] = w[K, M, W2, W3] x x[K, N, X2, X3] with dim-2/3 broadcast of w
// (GQA). Quantized weights with a kernel (backend/cpu/matmul.h): all threads quantize activation
// rows into shared scratch, barrier, then split weight rows. F32/F16/BF16 weights and quantized
// types without a kernel: F32/F16/BF16 go through the register-blocked matmul_float.h kernel, other
// types convert one weight row to F32 and dot it with every x row.
#include <cstring>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_simd.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/matmul_float.h"
#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/repack.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

bool use_kernel(const Tensor& w) { return dtype_traits(w.type).block_elems > 1 && matmul_supported(w.type); }

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Units of weight rows per thread: prompts (compute bound) 4; decode (bandwidth bound, contiguous
// ranges with stealing, next_contiguous) 8: finer pieces to steal at the end of a matmul, which
// measured +2% tg on the Q8_0 file (one process alternating builds; Q4_K_M even).
constexpr int64_t kUnitsPerThread = 4;
constexpr int64_t kDecodeUnitsPerThread = 8;

// Up to this many activation rows, each thread quantizes all of them itself (no barrier).
constexpr int64_t kPrivateQuantRows = 8;

// F16/BF16 weights meet activations rounded to the same 16-bit type (as llama.cpp computes
// them), which keeps hearth's logits closest to its peers'.
bool rounds_activations(const Tensor& w) { return w.type == DType::F16 || w.type == DType::BF16; }

// Weight row (K values of w.type) -> F32.
const float* weight_row_f32(const Tensor& w, const char* row, float* buf, Isa isa) {
    const int64_t k = w.ne[0];
    switch (w.type) {
        case DType::F32: return reinterpret_cast<const float*>(row);
        case DType::F16: f16_to_f32(isa, reinterpret_cast<const uint16_t*>(row), buf, k); return buf;
        case DType::BF16: {
            const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
            for (int64_t i = 0; i < k; ++i) buf[i] = bf16_to_fp32(h[i]);
            return buf;
        }
        default: quant::dequantize_row(w.type, row, buf, k); return buf;
    }
}

struct Geometry {
    int64_t K, M, N, X2, X3, r2, r3, chunk, n_chunks, units;
    bool decode;  // at most kPrivateQuantRows activation rows: bandwidth bound, contiguous ranges
};

Geometry geometry(const Tensor& dst, int nth) {
    const Tensor& w = *dst.src[0];
    const Tensor& x = *dst.src[1];
    Geometry g;
    g.K = w.ne[0];
    g.M = w.ne[1];
    g.N = x.ne[1];
    g.X2 = x.ne[2];
    g.X3 = x.ne[3];
    g.r2 = x.ne[2] / w.ne[2];
    g.r3 = x.ne[3] / w.ne[3];
    // Units of work: (batch, chunk of weight rows); ~kUnitsPerThread (decode: kDecodeUnitsPerThread)
    // per thread, claimed dynamically (first_mm_unit) so the threads finish together.
    const int64_t batches = g.X2 * g.X3;
    g.decode = g.N * batches <= kPrivateQuantRows;
    const int64_t per_thread = g.decode ? kDecodeUnitsPerThread : kUnitsPerThread;
    const int64_t want = std::max<int64_t>(1, (static_cast<int64_t>(nth) * per_thread + batches - 1) / batches);
    g.chunk = std::max<int64_t>(4, (g.M + want - 1) / want);
    g.n_chunks = (g.M + g.chunk - 1) / g.chunk;
    g.units = batches * g.n_chunks;
    return g;
}

// The units in the order a thread takes them (-1: none left). Few activation rows (decode:
// bandwidth bound): contiguous ranges (next_contiguous), each thread streaming one run of weight
// rows. More rows (prompts: compute bound): units claimed alternately (first_unit/next_unit),
// which measured ~5% faster there (Q8_0 pp512, paired runs).
int64_t first_mm_unit(const OpCtx& c, int64_t units, bool contiguous) {
    if (contiguous) return next_contiguous(c, units, -1);
    return first_unit(c) < units ? first_unit(c) : -1;
}
int64_t next_mm_unit(const OpCtx& c, int64_t units, bool contiguous, int64_t u) {
    if (contiguous) return next_contiguous(c, units, u);
    const int64_t v = next_unit(c, u);
    return v < units ? v : -1;
}

}  // namespace

WorkSize mul_mat_work_size(const Tensor& node, int nth) {
    const Tensor& w = *node.src[0];
    const Tensor& x = *node.src[1];
    WorkSize ws;
    if (use_kernel(w)) {
        const int64_t rows = x.ne[1] * x.ne[2] * x.ne[3];
        const size_t bytes = align64(quantized_activation_bytes(w.type, w.ne[0], 1)) * static_cast<size_t>(rows);
        if (rows <= kPrivateQuantRows)
            ws.per_thread = bytes;
        else
            ws.shared = bytes;
    } else {
        ws.per_thread = align64(sizeof(float) * static_cast<size_t>(w.ne[0]));  // one weight row
        if (rounds_activations(w)) {
            const int64_t rows = x.ne[1] * x.ne[2] * x.ne[3];
            const size_t bytes = sizeof(float) * static_cast<size_t>(rows * x.ne[0]);
            if (rows <= kPrivateQuantRows)
                ws.per_thread += bytes;
            else
                ws.shared = bytes;
        }
    }
    (void)nth;
    return ws;
}

bool mul_mat_shares_activations(const Tensor& a, const Tensor& b) {
    if (a.op != OpKind::MulMat || b.op != OpKind::MulMat) return false;
    const Tensor &wa = *a.src[0], &wb = *b.src[0], &xa = *a.src[1], &xb = *b.src[1];
    if (!use_kernel(wa) || !use_kernel(wb) || xa.data != xb.data) return false;
    for (int d = 0; d < kMaxDims; ++d)
        if (xa.ne[d] != xb.ne[d] || xa.nb[d] != xb.nb[d]) return false;
    // One byte layout for every weight type of the same k (matmul.h), but the scales follow the
    // weight type's activation scheme: only types of one scheme share the bytes.
    return detail::act_scheme(wa.type) == detail::act_scheme(wb.type) && wa.ne[2] == wb.ne[2] && wa.ne[3] == wb.ne[3];
}

// The repacked copy of w (repack.h) when one is registered and the ISA runs its kernel.
const RepackedMatrix* repacked_for(const Tensor& w, Isa isa) {
    if (!repacked_kernel_supports(isa, w.type) || w.ne[2] != 1 || w.ne[3] != 1) return nullptr;
    const RepackedMatrix* m = find_repacked(w.data);
    if (!m || m->type != w.type || m->k != w.ne[0] || m->rows != w.ne[1] || m->row_bytes != w.nb[1]) return nullptr;
    return m;
}

void op_mul_mat(Tensor& dst, const OpCtx& c) {
    const Tensor& w = *dst.src[0];
    const Tensor& x = *dst.src[1];
    Geometry g = geometry(dst, c.nth);
    const RepackedMatrix* rp = use_kernel(w) && repacked_preferred(c.isa, w.type, x.ne[1])
                                   ? (c.repacked_known ? c.repacked : repacked_for(w, c.isa))
                                   : nullptr;
    if (rp) {  // the repacked kernel takes whole 16-row tiles
        g.chunk = (g.chunk + kRepackRows - 1) / kRepackRows * kRepackRows;
        g.n_chunks = (g.M + g.chunk - 1) / g.chunk;
        g.units = g.X2 * g.X3 * g.n_chunks;
    }
    const int64_t out_stride = static_cast<int64_t>(dst.nb[1] / sizeof(float));
    const bool contiguous = g.decode;

    if (use_kernel(w)) {
        const size_t qrow = align64(quantized_activation_bytes(w.type, g.K, 1));
        HEARTH_ASSERT(qrow == quantized_activation_bytes(w.type, g.K, 1));  // kernel pads rows to 64
        // Phase 1: quantize all activation rows (every batch). Few rows (decode): every thread
        // quantizes them all into its private scratch, so no barrier is needed; else rows are
        // split across threads into the shared scratch, then a barrier. Skipped when a sibling
        // reading the same input left them in the scratch (c.act_ready).
        const int64_t total_rows = g.N * g.X2 * g.X3;
        const bool private_rows = total_rows <= kPrivateQuantRows;
        unsigned char* aq = private_rows ? c.per_thread : c.shared;
        int64_t q0 = 0, q1 = c.act_ready ? 0 : total_rows;
        if (!private_rows && !c.act_ready) split_range(total_rows, c.ith, c.nth, q0, q1);
        for (int64_t r = q0; r < q1;) {
            const int64_t b = r / g.N, j = r % g.N;
            const int64_t j_end = std::min(g.N, j + (q1 - r));
            const int64_t i2 = b % g.X2, i3 = b / g.X2;
            const float* src = reinterpret_cast<const float*>(static_cast<const char*>(x.data) + i2 * x.nb[2] + i3 * x.nb[3]);
            quantize_activations(w.type, src, static_cast<int64_t>(x.nb[1] / sizeof(float)), g.K, j, j_end,
                                 aq + static_cast<size_t>(b * g.N) * qrow);
            r += j_end - j;
        }
        if (!private_rows && !c.act_ready) c.barrier();
        // Phase 2: weight rows of each batch.
        for (int64_t u = first_mm_unit(c, g.units, contiguous); u >= 0; u = next_mm_unit(c, g.units, contiguous, u)) {
            const int64_t b = u / g.n_chunks, ch = u % g.n_chunks;
            const int64_t i2 = b % g.X2, i3 = b / g.X2;
            const int64_t m0 = ch * g.chunk, m1 = std::min(g.M, m0 + g.chunk);
            const char* wb = static_cast<const char*>(w.data) + (i2 / g.r2) * w.nb[2] + (i3 / g.r3) * w.nb[3];
            float* out = reinterpret_cast<float*>(static_cast<char*>(dst.data) + i2 * dst.nb[2] + i3 * dst.nb[3]);
            if (rp)  // bitwise the same result as the unpacked kernel
                matmul_repacked_isa(c.isa, w.type, rp->packed, aq + static_cast<size_t>(b * g.N) * qrow, g.K, g.N,
                                    m0, m1, out, out_stride);
            else
                matmul_quantized_isa(c.isa, w.type, wb, w.nb[1], aq + static_cast<size_t>(b * g.N) * qrow, g.K, g.N,
                                     m0, m1, out, out_stride);
        }
        return;
    }

    float* buf = reinterpret_cast<float*>(c.per_thread);
    // Optional phase 1: activation rows rounded to the weights' 16-bit type, packed [batch][N][K]
    // (privately per thread for few rows, else split across threads then a barrier).
    const bool round16 = rounds_activations(w);
    float* xr = nullptr;
    if (round16) {
        const int64_t total_rows = g.N * g.X2 * g.X3;
        const bool private_rows = total_rows <= kPrivateQuantRows;
        xr = private_rows ? reinterpret_cast<float*>(c.per_thread + align64(sizeof(float) * static_cast<size_t>(g.K)))
                          : reinterpret_cast<float*>(c.shared);
        int64_t r0 = 0, r1 = total_rows;
        if (!private_rows) split_range(total_rows, c.ith, c.nth, r0, r1);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / g.N, j = r % g.N;
            const int64_t i2 = b % g.X2, i3 = b / g.X2;
            const float* src = reinterpret_cast<const float*>(static_cast<const char*>(x.data) + i2 * x.nb[2] +
                                                              i3 * x.nb[3] + j * x.nb[1]);
            float* d = xr + r * g.K;
            if (w.type == DType::F16 && use_avx2(c.isa)) {
#if defined(HEARTH_X86)  // round-to-nearest-even both ways, the same values as the scalar loop
                uint16_t h[256];
                for (int64_t k0 = 0; k0 < g.K; k0 += 256) {
                    const int64_t len = std::min<int64_t>(256, g.K - k0);
                    avx2::f32_to_f16(src + k0, h, len);
                    avx2::f16_to_f32(h, d + k0, len);
                }
#endif
            } else if (w.type == DType::F16)
                for (int64_t k = 0; k < g.K; ++k) d[k] = fp16_to_fp32(fp32_to_fp16(src[k]));
            else
                for (int64_t k = 0; k < g.K; ++k) d[k] = bf16_to_fp32(fp32_to_bf16(src[k]));
        }
        if (!private_rows) c.barrier();
    }
    for (int64_t u = first_mm_unit(c, g.units, contiguous); u >= 0; u = next_mm_unit(c, g.units, contiguous, u)) {
        const int64_t b = u / g.n_chunks, ch = u % g.n_chunks;
        const int64_t i2 = b % g.X2, i3 = b / g.X2;
        const int64_t m0 = ch * g.chunk, m1 = std::min(g.M, m0 + g.chunk);
        const char* wb = static_cast<const char*>(w.data) + (i2 / g.r2) * w.nb[2] + (i3 / g.r3) * w.nb[3];
        const char* xb = static_cast<const char*>(x.data) + i2 * x.nb[2] + i3 * x.nb[3];
        size_t x_stride = x.nb[1];
        if (round16) {
            xb = reinterpret_cast<const char*>(xr + b * g.N * g.K);
            x_stride = sizeof(float) * static_cast<size_t>(g.K);
        }
        float* out = reinterpret_cast<float*>(static_cast<char*>(dst.data) + i2 * dst.nb[2] + i3 * dst.nb[3]);
        if (matmul_float_supported(w.type)) {  // F32/F16/BF16: register-blocked, batch-invariant kernel
            matmul_float_isa(c.isa, w.type, wb, w.nb[1], reinterpret_cast<const float*>(xb),
                             static_cast<int64_t>(x_stride / sizeof(float)), g.K, g.N, m0, m1, out, out_stride);
            continue;
        }
        for (int64_t i = m0; i < m1; ++i) {
            const float* wr = weight_row_f32(w, wb + i * w.nb[1], buf, c.isa);
            for (int64_t j = 0; j < g.N; ++j)
                out[j * out_stride + i] = dot_f32(c.isa, wr, reinterpret_cast<const float*>(xb + j * x_stride), g.K);
        }
    }
}

}  // namespace hearth::cpu
