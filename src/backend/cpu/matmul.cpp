// Public entry points of the quantized matmul module: ISA selection, argument validation,
// activation quantization (one row layout, scaled per weight type as llama.cpp does) and dispatch to the ISA kernels.
#include "backend/cpu/matmul.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/cpu/matmul_internal.h"
#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu {

namespace {

Isa lowered_by_env(Isa best) {
    const char* env = std::getenv("HEARTH_CPU_ISA");
    if (!env || !*env) return best;
    const std::string v(env);
    Isa want = best;
    if (v == "scalar") want = Isa::Scalar;
    else if (v == "avx2") want = Isa::Avx2;
    else if (v == "avx512") want = Isa::Avx512;
    else std::fprintf(stderr, "hearth: ignoring unknown HEARTH_CPU_ISA=%s (use scalar|avx2|avx512)\n", env);
    return static_cast<int>(want) < static_cast<int>(best) ? want : best;  // lower only
}

// Quantizes 32 values with multiplier `id` (x*id rounded to nearest-even, NaN -> 0, clamped to
// [-127, 127]); returns the sums of q over the two halves.
void quantize32_scalar(const float* xb, float id, int8_t* q, int& s0, int& s1) {
    s0 = s1 = 0;
    for (int e = 0; e < 32; ++e) {
        float v = xb[e] * id;
        if (!(v == v)) v = 0.0f;
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        const int iv = static_cast<int>(std::nearbyint(v));
        q[e] = static_cast<int8_t>(iv);
        (e < 16 ? s0 : s1) += iv;
    }
}

// One activation row -> the Q8 layout of matmul_internal.h, per the scheme (see ActScheme).
void quantize_act_row_scalar(detail::ActScheme scheme, const float* x, int64_t k, uint8_t* base) {
    const int64_t nb = k / 32;
    const detail::ActRowOut o = detail::act_row_out(base, k);
    int8_t* q = o.q;
    if (scheme == detail::ActScheme::PerBlock256) {
        for (int64_t g = 0; g < nb / 8; ++g) {
            const float* xg = x + g * 256;
            float amax = 0.0f, m = 0.0f;
            for (int e = 0; e < 256; ++e)
                if (std::fabs(xg[e]) > amax) amax = std::fabs(xg[e]), m = xg[e];
            const float is = amax > 0.0f ? -127.0f / m : 0.0f;
            const float dg = amax > 0.0f ? 1.0f / is : 0.0f;
            for (int64_t b = g * 8; b < g * 8 + 8; ++b) {
                int s0, s1;
                quantize32_scalar(x + b * 32, is, q + b * 32, s0, s1);
                detail::store_block(o, b, dg, dg * static_cast<float>(s0 + s1), s0, s1);
            }
        }
        return;
    }
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * 32;
        float amax = 0.0f;
        for (int e = 0; e < 32; ++e) amax = std::fmax(amax, std::fabs(xb[e]));
        const float db = amax / 127.0f;
        int s0, s1;
        quantize32_scalar(xb, db > 0.0f ? 127.0f / amax : 0.0f, q + b * 32, s0, s1);
        const float dr = detail::round_scale_fp16(db);
        detail::store_block(o, b, dr,
                            scheme == detail::ActScheme::PerBlock32Sum ? detail::round_scale_fp16(db * static_cast<float>(s0 + s1))
                                                                       : dr * static_cast<float>(s0 + s1),
                            s0, s1);
    }
}

}  // namespace

Isa active_isa() {
    static const Isa isa = lowered_by_env(best_isa());
    return isa;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "?";
}

bool matmul_supported(DType wtype) {
    switch (wtype) {
        case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0:
        case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
        case DType::IQ4_NL: case DType::IQ4_XS:
            return true;
        default:
            return false;
    }
}

static void check_type_and_k(DType wtype, int64_t k) {
    if (!matmul_supported(wtype)) {
        const DTypeTraits* t = dtype_traits_by_id(static_cast<uint32_t>(wtype));  // may be an unknown id
        throw Error(ErrorKind::Unsupported, std::string("quantized matmul: unsupported weight type ") +
                                                (t ? t->name : ("#" + std::to_string(static_cast<uint32_t>(wtype))).c_str()));
    }
    const int64_t be = dtype_traits(wtype).block_elems;
    if (k <= 0 || k % be != 0)
        throw Error(ErrorKind::InvalidArgument, "quantized matmul: row length " + std::to_string(k) +
                                                    " is not a positive multiple of the " + dtype_name(wtype) +
                                                    " block size " + std::to_string(be));
}

namespace detail {
float round_scale_fp16(float v) {
    const float r = fp16_to_fp32(fp32_to_fp16(v));
    return (std::isfinite(r) && (r != 0.0f || v == 0.0f)) ? r : v;
}
}  // namespace detail

size_t quantized_activation_bytes(DType wtype, int64_t k, int64_t n_rows) {
    check_type_and_k(wtype, k);
    if (n_rows < 0) throw Error(ErrorKind::InvalidArgument, "quantized matmul: negative row count");
    return detail::act_row_bytes(k) * static_cast<size_t>(n_rows);
}

void quantize_activations(DType wtype, const float* src, int64_t src_stride, int64_t k, int64_t row_begin,
                          int64_t row_end, void* dst) {
    quantize_activations_isa(active_isa(), wtype, src, src_stride, k, row_begin, row_end, dst);
}

void quantize_activations_isa(Isa isa, DType wtype, const float* src, int64_t src_stride, int64_t k,
                              int64_t row_begin, int64_t row_end, void* dst) {
    check_type_and_k(wtype, k);
    if (static_cast<int>(isa) > static_cast<int>(best_isa()))
        throw Error(ErrorKind::Unsupported, std::string("quantize_activations: ISA ") + isa_name(isa) + " not available");
    if (row_begin < 0 || row_end < row_begin)
        throw Error(ErrorKind::InvalidArgument, "quantize_activations: bad row range");
    const size_t rb = detail::act_row_bytes(k);
    const int64_t nb = k / 32;
    const detail::ActScheme scheme = detail::act_scheme(wtype);
#if defined(HEARTH_X86)
    const bool simd = isa != Isa::Scalar;
#else
    [[maybe_unused]] const bool simd = false;  // no SIMD activation quantizer off x86
#endif
    for (int64_t r = row_begin; r < row_end; ++r) {
        const float* x = src + r * src_stride;
        uint8_t* base = static_cast<uint8_t*>(dst) + static_cast<size_t>(r) * rb;
#if defined(HEARTH_X86)
        if (isa == Isa::Avx512) detail::quantize_act_row_avx512(scheme, x, k, base);
        else if (simd) detail::quantize_act_row_avx2(scheme, x, k, base);
        else quantize_act_row_scalar(scheme, x, k, base);
#else
        quantize_act_row_scalar(scheme, x, k, base);
#endif
        // Zero the padding so buffers are deterministic.
        const size_t used = static_cast<size_t>(k) + static_cast<size_t>(nb) * 28;  // q, d, ds32, ds16, ns32, ns16
        std::memset(base + used, 0, rb - used);
    }
}

void matmul_quantized_isa(Isa isa, DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k,
                          int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    check_type_and_k(wtype, k);
    if (n < 0 || w_row_begin < 0 || w_row_end < w_row_begin)
        throw Error(ErrorKind::InvalidArgument, "quantized matmul: bad row/column range");
    if (w_row_bytes < dtype_row_bytes(wtype, k))
        throw Error(ErrorKind::InvalidArgument, "quantized matmul: weight row stride smaller than a row");
    if (n > 1 && out_stride < w_row_end)
        throw Error(ErrorKind::InvalidArgument, "quantized matmul: output stride smaller than the row range");
    if (n == 0 || w_row_begin == w_row_end) return;
    if (static_cast<int>(isa) > static_cast<int>(best_isa()))
        throw Error(ErrorKind::Unsupported, std::string("quantized matmul: ISA ") + isa_name(isa) + " not available");
    switch (isa) {
#if defined(HEARTH_X86)
        case Isa::Avx512:
            detail::matmul_avx512(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
            return;
        case Isa::Avx2:
            detail::matmul_avx2(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
            return;
#endif
        default:
            detail::matmul_scalar(wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
            return;
    }
}

void matmul_quantized(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                      int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_quantized_isa(active_isa(), wtype, w, w_row_bytes, a_q, k, n, w_row_begin, w_row_end, out, out_stride);
}

uint64_t stream_read_checksum(const void* p, size_t bytes) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    size_t done = 0;
    uint64_t sum = 0;
#if defined(HEARTH_X86)
    if (active_isa() == Isa::Avx512) {
        done = bytes / 256 * 256;
        sum = detail::stream_read_avx512(b, done);
    } else if (active_isa() == Isa::Avx2) {
        done = bytes / 128 * 128;
        sum = detail::stream_read_avx2(b, done);
    }
#endif
    for (size_t i = done; i < bytes; ++i) sum += b[i];
    return sum;
}

namespace detail {

void* thread_scratch(size_t bytes) {
    struct Buf {
        void* p = nullptr;
        size_t cap = 0;
        ~Buf() { std::free(p); }
    };
    thread_local Buf buf;
    if (buf.cap < bytes) {
        std::free(buf.p);
        buf.p = nullptr;
        buf.cap = 0;
        const size_t cap = (bytes + 4095) / 4096 * 4096;
        buf.p = std::aligned_alloc(64, cap);
        if (!buf.p) throw Error(ErrorKind::OutOfMemory, "quantized matmul: scratch allocation failed");
        buf.cap = cap;
    }
    return buf.p;
}

}  // namespace detail
}  // namespace hearth::cpu
