// Work split and scratch layout of the AVX-512 flash-attention path (flash_attn_avx512.h). Baseline
// x86-64 code: the backend sizes scratch with it before it knows which ISA level will run the op.
#include <algorithm>

#include "backend/cpu/flash_attn_avx512.h"

namespace hearth::cpu::avx512 {
namespace {

size_t align64(size_t x) { return (x + 63) & ~size_t(63); }

}  // namespace

bool flash_attn_supported(const Tensor& dst) {
    const DType kt = dst.src[1]->type;
    return kt == DType::F32 || kt == DType::F16 || kt == DType::BF16;
}

bool acc_rows_v_direct_supported(DType v, int64_t Dv) {
    return (v == DType::Q8_0 || v == DType::Q4_0 || v == DType::IQ4_NL) && Dv % 64 == 0;
}

FlashPlan flash_attn_plan(const Tensor& dst, int nth) {
    const Tensor& q = *dst.src[0];
    const Tensor& k = *dst.src[1];
    const Tensor& v = *dst.src[2];
    FlashPlan p;
    p.D = q.ne[0];
    p.Dv = v.ne[0];
    p.nq = q.ne[1];
    p.nh = q.ne[2];
    p.nhkv = k.ne[2];
    p.group = p.nh / p.nhkv;
    // Query tokens per unit: kFaQBlock, fewer for wide GQA groups so a unit keeps about
    // kFaMaxRows rows (its scores and accumulators stay in L2), never more than the batch has.
    p.qblk = std::max<int64_t>(1, std::min({kFaQBlock, std::max<int64_t>(4, kFaMaxRows / std::max<int64_t>(1, p.group)), p.nq}));
    p.n_qb = (p.nq + p.qblk - 1) / p.qblk;
    p.gsub = gqa_subgroup(p.group, p.nhkv, p.n_qb, nth);
    p.n_sub = p.group / p.gsub;
    // Decode shape (one query block, whole GQA groups, too few rows per KV head to convert tiles):
    // a unit walks several KV heads in step, tile by tile, so the threads read the cache's rows
    // (all heads of a position side by side) in long runs instead of one head's 256-byte slice
    // every 2 KiB. As many heads per unit as leaves a unit for every thread.
    p.heads_per_unit = 1;
    if (p.n_qb == 1 && p.n_sub == 1 && p.gsub * p.qblk < kFaConvertRows)
        for (int64_t u = p.nhkv; u > 1; --u)
            if (p.nhkv % u == 0 && p.nhkv / u >= nth && u <= kFaMaxHeadsPerUnit) {
                p.heads_per_unit = u;
                break;
            }
    p.units = p.nhkv / p.heads_per_unit * p.n_sub * p.n_qb;
    p.head_rows_pad = (p.gsub * p.qblk + 3) / 4 * 4;
    p.rows_pad = p.heads_per_unit * p.head_rows_pad;

    const size_t f = sizeof(float);
    const size_t rp = static_cast<size_t>(p.rows_pad), D = static_cast<size_t>(p.D), Dv = static_cast<size_t>(p.Dv);
    size_t o = 0;
    p.off_kt = o;
    o = align64(o + kFaTile * D * f);
    p.off_vt = o;
    o = align64(o + kFaTile * Dv * f);
    p.off_acc = o;
    o = align64(o + rp * Dv * f);
    p.off_s = o;
    o = align64(o + rp * kFaTile * f);
    p.off_ml = o;
    o = align64(o + 3 * rp * f);
    p.off_zero = o;
    o = align64(o + kFaTile * f);
    p.off_dummy = o;
    o = align64(o + Dv * f);
    p.off_qptr = o;
    o = align64(o + rp * sizeof(const float*));
    p.off_vis = o;
    o = align64(o + static_cast<size_t>(p.qblk) * sizeof(uint64_t));
    p.bytes = o + 64;  // room to align the per-thread base up to 64 bytes
    return p;
}

}  // namespace hearth::cpu::avx512
