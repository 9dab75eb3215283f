// Entry points of the float-weight matmul (matmul_float.h): argument validation, ISA dispatch and
// the portable scalar kernel (one weight row converted to F32 at a time, 8 fixed partial sums).
#include "backend/cpu/matmul_float.h"

#include <string>
#include <vector>

#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu {

bool matmul_float_supported(DType wtype) {
    return wtype == DType::F32 || wtype == DType::F16 || wtype == DType::BF16;
}

namespace {

// Weight row (k values of wtype) -> F32 in dst.
void row_to_f32(DType wtype, const char* row, float* dst, int64_t k) {
    if (wtype == DType::F32) {
        const float* r = reinterpret_cast<const float*>(row);
        for (int64_t e = 0; e < k; ++e) dst[e] = r[e];
        return;
    }
    const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
    if (wtype == DType::F16)
        for (int64_t e = 0; e < k; ++e) dst[e] = fp16_to_fp32(h[e]);
    else
        for (int64_t e = 0; e < k; ++e) dst[e] = bf16_to_fp32(h[e]);
}

// Value k goes to partial sum k % 8; the 8 sums are added as ((0+1)+(2+3))+((4+5)+(6+7)).
float dot8(const float* a, const float* b, int64_t k) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t e = 0;
    for (; e + 8 <= k; e += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[e + l] * b[e + l];
    for (int l = 0; e + l < k; ++l) acc[l] += a[e + l] * b[e + l];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void matmul_float_scalar(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                         int64_t k, int64_t n, int64_t m0, int64_t m1, float* out, int64_t out_stride) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(k));
    for (int64_t i = m0; i < m1; ++i) {
        row_to_f32(wtype, static_cast<const char*>(w) + i * w_row_bytes, row.data(), k);
        for (int64_t j = 0; j < n; ++j) out[j * out_stride + i] = dot8(row.data(), x + j * x_stride, k);
    }
}

}  // namespace

void matmul_float(DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride, int64_t k,
                  int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    matmul_float_isa(active_isa(), wtype, w, w_row_bytes, x, x_stride, k, n, w_row_begin, w_row_end, out, out_stride);
}

void matmul_float_isa(Isa isa, DType wtype, const void* w, size_t w_row_bytes, const float* x, int64_t x_stride,
                      int64_t k, int64_t n, int64_t w_row_begin, int64_t w_row_end, float* out, int64_t out_stride) {
    if (!matmul_float_supported(wtype))
        throw Error(ErrorKind::Unsupported, std::string("float matmul: unsupported weight type ") + dtype_name(wtype));
    if (k <= 0) throw Error(ErrorKind::InvalidArgument, "float matmul: row length must be positive");
    if (n < 0 || w_row_begin < 0 || w_row_end < w_row_begin)
        throw Error(ErrorKind::InvalidArgument, "float matmul: bad row/column range");
    if (w_row_bytes < dtype_row_bytes(wtype, k))
        throw Error(ErrorKind::InvalidArgument, "float matmul: weight row stride smaller than a row");
    if (n > 1 && x_stride < k)
        throw Error(ErrorKind::InvalidArgument, "float matmul: activation stride smaller than a row");
    if (n > 1 && out_stride < w_row_end)
        throw Error(ErrorKind::InvalidArgument, "float matmul: output stride smaller than the row range");
    if (n == 0 || w_row_begin == w_row_end) return;
    if (static_cast<int>(isa) > static_cast<int>(best_isa()))
        throw Error(ErrorKind::Unsupported, std::string("float matmul: ISA ") + isa_name(isa) + " not available");
    switch (isa) {
#if defined(HEARTH_X86)
        case Isa::Avx512:
            detail::matmul_float_avx512(wtype, w, w_row_bytes, x, x_stride, k, n, w_row_begin, w_row_end, out,
                                        out_stride);
            return;
        case Isa::Avx2:
            detail::matmul_float_avx2(wtype, w, w_row_bytes, x, x_stride, k, n, w_row_begin, w_row_end, out,
                                      out_stride);
            return;
#endif
        default:
            matmul_float_scalar(wtype, w, w_row_bytes, x, x_stride, k, n, w_row_begin, w_row_end, out, out_stride);
            return;
    }
}

}  // namespace hearth::cpu
