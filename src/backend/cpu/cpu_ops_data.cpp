// CPU data-movement ops: get_rows (any dequantizable table -> F32 rows), cont / cpy (strided copy
// with F32 -> F16/BF16 conversion or row quantization, e.g. writing the KV cache) and concat.
#include <cstring>
#include <string>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/cpu_simd.h"
#include "backend/cpu/repack.h"
#include "core/error.h"
#include "quant/fp16.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

// Convert n values of type `from` (element stride s_from bytes) to type `to` (stride s_to).
// Types: F32, F16, BF16 (conversion through float) or identical plain types (byte copy).
void convert_run(DType from, const char* src, size_t s_from, DType to, char* dst, size_t s_to, int64_t n, Isa isa) {
#if defined(HEARTH_X86)
    if (use_avx2(isa) && s_from == dtype_traits(from).block_bytes && s_to == dtype_traits(to).block_bytes) {
        if (from == DType::F32 && to == DType::F16)
            return avx2::f32_to_f16(reinterpret_cast<const float*>(src), reinterpret_cast<uint16_t*>(dst), n);
        if (from == DType::F16 && to == DType::F32)
            return avx2::f16_to_f32(reinterpret_cast<const uint16_t*>(src), reinterpret_cast<float*>(dst), n);
    }
#endif
    (void)isa;
    if (from == to) {
        const size_t es = dtype_traits(from).block_bytes;
        if (s_from == es && s_to == es) {
            std::memcpy(dst, src, es * static_cast<size_t>(n));
            return;
        }
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * s_to, src + i * s_from, es);
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        float v;
        const char* p = src + i * s_from;
        switch (from) {
            case DType::F32: std::memcpy(&v, p, 4); break;
            case DType::F16: { uint16_t h; std::memcpy(&h, p, 2); v = f16_to_f32_fast(h); break; }
            case DType::BF16: { uint16_t h; std::memcpy(&h, p, 2); v = bf16_to_fp32(h); break; }
            default: HEARTH_ASSERT_MSG(false, "convert_run: unsupported source type");
        }
        char* q = dst + i * s_to;
        switch (to) {
            case DType::F32: std::memcpy(q, &v, 4); break;
            case DType::F16: { const uint16_t h = fp32_to_fp16(v); std::memcpy(q, &h, 2); break; }
            case DType::BF16: { const uint16_t h = fp32_to_bf16(v); std::memcpy(q, &h, 2); break; }
            default: HEARTH_ASSERT_MSG(false, "convert_run: unsupported destination type");
        }
    }
}

struct Coord {
    int64_t i[4];
};
inline Coord unravel(const Tensor& t, int64_t e) {
    Coord c;
    for (int d = 0; d < 4; ++d) {
        c.i[d] = e % t.ne[d];
        e /= t.ne[d];
    }
    return c;
}
inline size_t offset_of(const Tensor& t, const Coord& c) {
    return c.i[0] * t.nb[0] + c.i[1] * t.nb[1] + c.i[2] * t.nb[2] + c.i[3] * t.nb[3];
}

}  // namespace

void op_get_rows(Tensor& dst, const OpCtx& c) {
    const Tensor& table = *dst.src[0];
    const Tensor& ids = *dst.src[1];
    const int64_t n = dst.ne[0];
    int64_t r0, r1;
    split_range(dst.ne[1] * dst.ne[2], c.ith, c.nth, r0, r1);
    // A tied embedding whose original rows were released after repacking: the rows read are noted
    // so their pages go again every few hundred rows (repack.h, note_original_rows_read).
    const RepackedMatrix* released = r1 > r0 ? find_repacked(table.data) : nullptr;
    if (released && !released->originals_released) released = nullptr;
    constexpr size_t kNoteBatch = 32;
    const void* read_rows[kNoteBatch];
    size_t n_read = 0;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t i1 = r % dst.ne[1], i2 = r / dst.ne[1];
        int32_t id;
        std::memcpy(&id, static_cast<const char*>(ids.data) + i1 * ids.nb[0] + i2 * ids.nb[1], 4);
        float* y = reinterpret_cast<float*>(dst.row_ptr(i1, i2));
        if (id < 0 || id >= table.ne[1]) {
            c.errors->record("get_rows: row id " + std::to_string(id) + " is outside [0, " +
                             std::to_string(table.ne[1]) + ") of " + describe(table));
            std::memset(y, 0, sizeof(float) * static_cast<size_t>(n));
            continue;
        }
        const char* row = static_cast<const char*>(table.data) + id * table.nb[1];
        switch (table.type) {
            case DType::F32:
            case DType::F16:
            case DType::BF16: convert_run(table.type, row, table.nb[0], DType::F32, reinterpret_cast<char*>(y), 4, n, c.isa); break;
            default: quant::dequantize_row(table.type, row, y, n);
        }
        if (released) {
            read_rows[n_read++] = row;
            if (n_read == kNoteBatch || r + 1 == r1) {
                note_original_rows_read(*released, read_rows, n_read);
                n_read = 0;
            }
        }
    }
}

void op_copy(Tensor& dst, const OpCtx& c) {
    const Tensor& src = *dst.src[0];
    if (dtype_traits(dst.type).block_elems > 1) {
        // Quantized destination (KV cache): src and dst have the same shape (checked by ops::cpy);
        // each F32 source row is encoded into its destination row by the reference quantizer.
        int64_t r0, r1;
        split_range(dst.nrows(), c.ith, c.nth, r0, r1);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t i1 = r % dst.ne[1], i2 = (r / dst.ne[1]) % dst.ne[2], i3 = r / (dst.ne[1] * dst.ne[2]);
            quant::quantize_row(dst.type, reinterpret_cast<const float*>(src.row_ptr(i1, i2, i3)), dst.row_ptr(i1, i2, i3), dst.ne[0]);
        }
        return;
    }
    const int64_t total = src.nelements();
    int64_t e0, e1;
    // Split on whole destination rows so no two threads write inside one row.
    const int64_t rows = dst.nrows();
    split_range(rows, c.ith, c.nth, e0, e1);
    e0 *= dst.ne[0];
    e1 = std::min(total, e1 * dst.ne[0]);
    int64_t e = e0;
    while (e < e1) {
        const Coord cs = unravel(src, e);
        const Coord cd = unravel(dst, e);
        const int64_t run = std::min({src.ne[0] - cs.i[0], dst.ne[0] - cd.i[0], e1 - e});
        convert_run(src.type, static_cast<const char*>(src.data) + offset_of(src, cs), src.nb[0], dst.type,
                    static_cast<char*>(dst.data) + offset_of(dst, cd), dst.nb[0], run, c.isa);
        e += run;
    }
}

void op_concat(Tensor& dst, const OpCtx& c) {
    const Tensor& a = *dst.src[0];
    const Tensor& b = *dst.src[1];
    const int dim = dst.param_i(0);
    int64_t r0, r1;
    split_range(dst.nrows(), c.ith, c.nth, r0, r1);
    for (int64_t r = r0; r < r1; ++r) {
        int64_t i[4] = {0, r % dst.ne[1], (r / dst.ne[1]) % dst.ne[2], r / (dst.ne[1] * dst.ne[2])};
        char* y = dst.row_ptr(i[1], i[2], i[3]);
        if (dim == 0) {
            convert_run(DType::F32, a.row_ptr(i[1], i[2], i[3]), a.nb[0], DType::F32, y, 4, a.ne[0], c.isa);
            convert_run(DType::F32, b.row_ptr(i[1], i[2], i[3]), b.nb[0], DType::F32, y + 4 * a.ne[0], 4, b.ne[0], c.isa);
            continue;
        }
        const Tensor* s = &a;
        if (i[dim] >= a.ne[dim]) {
            i[dim] -= a.ne[dim];
            s = &b;
        }
        convert_run(DType::F32, s->row_ptr(i[1], i[2], i[3]), s->nb[0], DType::F32, y, 4, dst.ne[0], c.isa);
    }
}

}  // namespace hearth::cpu
