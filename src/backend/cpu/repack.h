// Weight repacking for the CPU matmul: at model load, quantized weight matrices are copied once into
// a 16-row-interleaved layout that the AVX-512 VNNI kernel (one zmm = 16 rows) or the AVX2 kernel
// (two ymm of 8 rows) streams directly, bitwise equal to that ISA's unpacked panel kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "quant/dtype.h"

namespace hearth::cpu {

constexpr int64_t kRepackRows = 16;  // weight rows interleaved per tile

// True when (type, rows, k) has a repacked layout: a supported type, rows a multiple of 16, k a
// positive multiple of the type's block size.
bool repack_supported(DType t, int64_t rows, int64_t k);

// Bytes of the repacked copy of a rows x k matrix (the packed rows' size, plus 2-4 bytes per row
// per super-block for K formats whose 6-bit scales are stored unpacked). Requires repack_supported.
size_t repacked_bytes(DType t, int64_t rows, int64_t k);

// Rows [0, rows) of w (row i at w + i*w_row_bytes) -> dst (repacked_bytes(t, rows, k) bytes).
// Layouts (tile = 16 rows, contiguous; within a tile, 32-element sub-blocks or 256-element
// super-blocks in order; "zmm(x)" = 64 bytes whose 4-byte lane r holds row r's bytes x):
//   Q4_0 per sub-block (288 B): zmm(qs[4j..4j+4)) for j<4, then d[16] fp16
//   Q5_0 per sub-block (352 B): as Q4_0's nibbles, then per j: u64 mask of 5th bits of the low
//        nibbles (bit 4r+b = qh bit 4j+b) and of the high nibbles (qh bit 16+4j+b), then d[16]
//   Q8_0 per sub-block (544 B): zmm(qs[4g..4g+4) ^ 0x80) for g<8, then d[16] fp16
//   Q4_K per super-block (2368 B): zmm(qs[32c+4g..+4)) for c<4, g<8; d[16], dmin[16] fp16;
//        scale[8][16], min[8][16] u8 (6-bit values unpacked)
//   IQ4_NL per sub-block (288 B): as Q4_0 (the nibbles index the IQ4 code book)
//   Q4_1 per sub-block (320 B): as Q4_0, then m[16] fp16;  Q5_1 (384 B): as Q5_0, then m[16] fp16
//   Q2_K per super-block (1344 B): zmm(qs[32h+4g..]) for h<2, g<8 (sub-block 4h+j = bits 2j..2j+1);
//        scales[16][16] u8 (low nibble scale, high nibble min); d[16], dmin[16] fp16
//   Q3_K per super-block (1824 B): zmm(qs[32h+4g..]) for h<2, g<8; zmm(hmask[4g..]) for g<8 (bit s =
//        3rd bit of sub-block s); scale[16][16] u8 (6-bit, value = d*(scale-32)*(q-4)); d[16] fp16
//   Q5_K per super-block (2880 B): as Q4_K's nibbles (2048 B), then zmm(qh[4g..4g+4)) for g<8 (bit s
//        = 5th bit of sub-block s), d[16], dmin[16] fp16, scale[8][16], min[8][16] u8
//   IQ4_XS per super-block (2208 B): per sub-block s<8: zmm(qs[16s+4j..]) for j<4; d[16] fp16;
//        ls[8][16] u8 (6-bit sub-block scales, value = d*(ls-32)*codebook[nibble])
//   Q6_K per super-block (3360 B): per h<2, g<8: zmm(ql[64h+4g..]), zmm(ql[64h+32+4g..]),
//        zmm(qh[32h+4g..]); scale[16][16] i8; d[16] fp16
void repack_weights(DType t, const void* w, size_t w_row_bytes, int64_t rows, int64_t k, void* dst);

// True when a repacked kernel can run on this ISA: AVX-512 VNNI (matmul_repacked_avx512.cpp) or
// AVX2 (matmul_repacked_avx2.cpp), both for every repacked type, and the CPU has that ISA.
bool repacked_kernel_available(Isa isa);
// True when isa's repacked kernel handles type t (implies repacked_kernel_available(isa)). The
// layout is the same for every ISA; only which types each kernel reads differs.
bool repacked_kernel_supports(Isa isa, DType t);

// out[j*out_stride + i] = dot(weight row i, activation row j), i in [r0, r1), j < n, from a repacked
// matrix; r0 and r1 are multiples of 16 (or r1 = rows, also a multiple of 16). a_q as for
// matmul_quantized. Bitwise equal to matmul_quantized_isa(Isa::Avx512, ...) on the original rows.
void matmul_repacked(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                     float* out, int64_t out_stride);
// The same with isa's kernel (Avx512 or Avx2; without repacked_kernel_supports(isa, t) it throws
// Unsupported): bitwise equal to matmul_quantized_isa(isa, ...) on the original rows.
void matmul_repacked_isa(Isa isa, DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0,
                         int64_t r1, float* out, int64_t out_stride);

// Whether matmul_repacked(_isa) is the faster way to multiply n activation rows (it always gives
// the same bits as the unpacked path, so this is a speed choice only): Q6_K's panel kernel wins for
// prompt-sized n, where its decoded panel is reused by many column tiles.
bool repacked_preferred(DType t, int64_t n);
bool repacked_preferred(Isa isa, DType t, int64_t n);

// The repacked copies of one model's weights. Creating it repacks every eligible matrix (whose
// type the active ISA's repacked kernel supports, when env HEARTH_NO_REPACK is unset or 0) and registers it so that
// find_repacked(data) returns it; destroying it unregisters them.
struct WeightDesc {
    const void* data;
    DType type;
    int64_t k, rows;
    size_t row_bytes;
    bool keep_original = false;  // other ops read these rows too (a tied embedding): never release them
};
// How the copies are held.
//   release_originals: the weights are a read-only file mapping whose pages may be dropped once
//     repacked (see originals_unused); they are then released chunk by chunk as repacking goes, so
//     peak memory stays near one copy of the weights. Locked pages are unlocked first.
//   lock: the model was asked to stay in RAM (--mlock): every copy is mlock'ed too, so the memory
//     the kernels read is the memory that is locked. A refusal is recorded in lock_warning().
struct RepackOptions {
    bool release_originals = false;
    bool lock = false;
};
struct RepackedMatrix {
    const void* data;  // original rows (the registry key)
    DType type;
    int64_t k, rows;
    size_t row_bytes;
    void* packed;
    size_t bytes;
    bool locked = false;              // packed is mlock'ed
    bool originals_released = false;  // the original rows' pages were dropped (RepackOptions)
    // Rows other ops read from the released originals since they were last dropped again, and
    // which 2 MiB windows of them (bit w: bytes [data + 2 MiB * w, ...)): see note_original_rows_read.
    mutable std::atomic<uint32_t> rows_read{0};
    mutable std::vector<std::atomic<uint64_t>> touched_windows;
};
class RepackedWeights {
public:
    explicit RepackedWeights(const std::vector<WeightDesc>& weights, const RepackOptions& options = {});
    ~RepackedWeights();
    RepackedWeights(const RepackedWeights&) = delete;
    RepackedWeights& operator=(const RepackedWeights&) = delete;
    size_t bytes() const { return bytes_; }       // repacked copies in memory
    size_t count() const { return mats_.size(); }  // matrices repacked
    // True when every matmul over the repacked matrices reads only the repacked copy (no batch
    // size falls back to the original rows), so the originals' pages may be released.
    bool originals_unused() const;
    size_t released_bytes() const { return released_; }  // original pages dropped (MADV_DONTNEED)
    size_t locked_bytes() const { return locked_; }      // copies mlock'ed (RepackOptions::lock)
    // Non-empty when RepackOptions::lock was asked for and the OS refused some copy; says what to do.
    const std::string& lock_warning() const { return lock_warning_; }

private:
    void add_all(const std::vector<WeightDesc>& weights, const RepackOptions& options);
    void lock_copy(RepackedMatrix& m);
    void release();  // unregister, unlock and free everything
    std::vector<std::unique_ptr<RepackedMatrix>> mats_;
    size_t bytes_ = 0;
    size_t released_ = 0;
    size_t locked_ = 0;
    size_t lock_refused_ = 0;  // bytes of copies the OS would not lock
    std::string lock_warning_;
    Isa isa_ = Isa::Scalar;  // the active ISA at creation: which types are worth repacking
};

// The repacked copy of the matrix whose rows start at data, or nullptr.
const RepackedMatrix* find_repacked(const void* data);

// An op other than matmul read some of m's original rows (get_rows on a tied embedding; rows are
// their start addresses). When those originals were released, the kernel has mapped the page-cache
// folios around them back in (a fault maps a whole large folio, not one page): after every
// kRowsBetweenReleases such rows, the windows they touched are dropped again, so the rows a long
// session looks up do not pile back into memory (at most that many rows' folios stay mapped) while
// a prompt pays one madvise per few hundred rows. No-op when the originals were not released. The
// mapping is read-only, so a reader on another thread that touches a dropped page faults it back.
constexpr uint32_t kRowsBetweenReleases = 128;
void note_original_rows_read(const RepackedMatrix& m, const void* const* rows, size_t count);

// False when env HEARTH_NO_REPACK is set to anything but "0".
bool repack_enabled();

}  // namespace hearth::cpu
