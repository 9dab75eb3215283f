// Private to the matmul module: the quantized-activation row layout shared by the scalar, AVX2 and
// AVX-512 kernels, and the per-ISA entry points that matmul.cpp dispatches to.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/dtype.h"

namespace hearth::cpu::detail {

// The helpers below are `static` (one private copy per translation unit) because the AVX2/AVX-512
// files include this header too: a shared inline copy compiled with ISA flags could otherwise be
// picked by the linker for baseline callers.
//
// One quantized activation row of k elements (k a multiple of 32), the same for every weight type:
//   int8  q[k]         values, x[e] ~= d[e/32] * q[e]
//   float d[k/32]      per-32 scale
//   float ds32[k/32]   d[b] * sum(q over block b)          (for weight offsets/mins per 32)
//   float ds16[k/16]   d[e/32] * sum(q over 16-block e)    (for weight offsets/mins per 16)
//   int32 ns32[k/32]   -sum(q over block b)                (exact integer offsets per 32)
//   int32 ns16[k/16]   -sum(q over 16-block e)             (exact integer offsets per 16)
// padded to a multiple of 64 bytes.
static inline size_t act_row_bytes(int64_t k) {
    const size_t nb = static_cast<size_t>(k / 32);
    const size_t bytes = static_cast<size_t>(k) + nb * 4 + nb * 4 + nb * 2 * 4 + nb * 4 + nb * 2 * 4;
    return (bytes + 63) / 64 * 64;
}

// How activations are quantized for a weight type, chosen to give the same numbers as llama.cpp
// (its vec_dot types), so quantized models track its logits closely:
//   PerBlock32   (Q4_0, Q5_0, Q8_0, IQ4_NL): per 32, q = round_even(x * 127/amax), d = fp16(amax/127).
//   PerBlock32Sum (Q4_1, Q5_1): as PerBlock32, and ds32 = fp16(amax/127 * sum(q)).
//   PerBlock256  (K-quants, IQ4_XS): per 256, m = the value of largest |x| (first one), s = -127/m,
//                q = min(127, round_even(s*x)), d = 1/s (float), stored in all 8 per-32 slots.
// Every ISA gives identical bytes. A scale that does not fit fp16 is kept as a float.
enum class ActScheme { PerBlock32, PerBlock32Sum, PerBlock256 };

static inline ActScheme act_scheme(DType wtype) {
    switch (wtype) {
        case DType::Q4_1: case DType::Q5_1: return ActScheme::PerBlock32Sum;
        case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
        case DType::IQ4_XS:
            return ActScheme::PerBlock256;
        default: return ActScheme::PerBlock32;
    }
}

struct ActRow {
    const int8_t* q;
    const float* d;
    const float* ds32;
    const float* ds16;
    const int32_t* ns32;
    const int32_t* ns16;
};

static inline ActRow act_row(const void* base, int64_t k, int64_t row) {
    const uint8_t* p = static_cast<const uint8_t*>(base) + static_cast<size_t>(row) * act_row_bytes(k);
    const int64_t nb = k / 32;
    ActRow r;
    r.q = reinterpret_cast<const int8_t*>(p);
    r.d = reinterpret_cast<const float*>(p + k);
    r.ds32 = r.d + nb;
    r.ds16 = r.ds32 + nb;
    r.ns32 = reinterpret_cast<const int32_t*>(r.ds16 + 2 * nb);
    r.ns16 = r.ns32 + nb;
    return r;
}

// Writable view of one activation row being quantized, and the per-block fields every quantizer
// stores for block b: scale d, ds16 = d * half sums, ds32 (scheme-dependent, computed by the
// caller), and the exact negated integer sums ns32 / ns16.
struct ActRowOut {
    int8_t* q;
    float *d, *ds32, *ds16;
    int32_t *ns32, *ns16;
};

static inline ActRowOut act_row_out(uint8_t* base, int64_t k) {
    const int64_t nb = k / 32;
    ActRowOut o;
    o.q = reinterpret_cast<int8_t*>(base);
    o.d = reinterpret_cast<float*>(base + k);
    o.ds32 = o.d + nb;
    o.ds16 = o.ds32 + nb;
    o.ns32 = reinterpret_cast<int32_t*>(o.ds16 + 2 * nb);
    o.ns16 = o.ns32 + nb;
    return o;
}

static inline void store_block(const ActRowOut& o, int64_t b, float d, float ds32, int32_t s0, int32_t s1) {
    o.d[b] = d;
    o.ds16[2 * b] = d * static_cast<float>(s0);
    o.ds16[2 * b + 1] = d * static_cast<float>(s1);
    o.ds32[b] = ds32;
    o.ns32[b] = -(s0 + s1);
    o.ns16[2 * b] = -s0;
    o.ns16[2 * b + 1] = -s1;
}

// A per-thread scratch buffer of at least `bytes` bytes, 64-byte aligned, reused between calls
// (grows, never shrinks). Lives in baseline code so ISA files instantiate no std containers.
void* thread_scratch(size_t bytes);

// All entry points take already-validated arguments (see matmul_quantized).
void matmul_scalar(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                   int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);
void matmul_avx2(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                 int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);
void matmul_avx512(DType wtype, const void* w, size_t w_row_bytes, const void* a_q, int64_t k, int64_t n,
                   int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride);

void quantize_act_row_avx2(ActScheme scheme, const float* x, int64_t k, uint8_t* base);  // one row, k floats
void quantize_act_row_avx512(ActScheme scheme, const float* x, int64_t k, uint8_t* base);  // same bytes
// fp16(v) as a float; v itself when fp16 cannot hold it (overflow, or a non-zero v that underflows).
float round_scale_fp16(float v);
uint64_t stream_read_avx2(const void* p, size_t bytes);    // bytes multiple of 128
uint64_t stream_read_avx512(const void* p, size_t bytes);  // bytes multiple of 256

// Scalar decode of the 32-element sub-block `j` of a weight row into the common form used by the
// reference kernel: value[e] = sc[e/16] * q[e] + mn[e/16], q signed.
void decode_block_scalar(DType wtype, const uint8_t* row, int64_t j, int8_t q[32], float sc[2], float mn[2]);

}  // namespace hearth::cpu::detail
