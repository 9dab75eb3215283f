// Weight repacking (baseline code): the 16-row-interleaved layouts of repack.h built by byte
// shuffles, the process-wide registry that op_mul_mat consults, and the dispatch to the AVX-512
// and AVX2 kernels (matmul_repacked_avx512.cpp / matmul_repacked_avx2.cpp).
#include "backend/cpu/repack.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "backend/cpu/matmul.h"
#include "core/error.h"

namespace hearth::cpu {

namespace detail {
void matmul_repacked_avx512(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0,
                            int64_t r1, float* out, int64_t out_stride);
bool repacked_avx2_supports(DType t);
void matmul_repacked_avx2(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                          float* out, int64_t out_stride);
}

namespace {

constexpr int kR = static_cast<int>(kRepackRows);
// Released original rows are dropped again in windows of this size (note_original_rows_read): the
// largest folio a file fault maps (a PMD).
constexpr uintptr_t kWindow = uintptr_t(2) << 20;

// Bytes per (tile, unit): a unit is one 32-element sub-block or one 256-element super-block.
size_t unit_bytes(DType t) {
    switch (t) {
        case DType::Q4_0: return 288;
        case DType::Q5_0: return 352;
        case DType::Q8_0: return 544;
        case DType::Q4_K: return 2368;
        case DType::Q6_K: return 3360;
        case DType::IQ4_NL: return 288;
        case DType::Q4_1: return 320;
        case DType::Q5_1: return 384;
        case DType::Q2_K: return 1344;
        case DType::Q3_K: return 1824;
        case DType::Q5_K: return 2880;
        case DType::IQ4_XS: return 2208;
        default: return 0;
    }
}

// 4 bytes of row r at src -> lane r of the zmm image at dst (64 bytes).
inline void lane4(uint8_t* dst, int r, const uint8_t* src) { std::memcpy(dst + 4 * r, src, 4); }

// Q4_K / Q5_K: the 8 six-bit (scale, min) pairs packed in 12 bytes (format fact).
void k4_scale_min(const uint8_t* s, int j, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// One tile (16 rows; row r's unit u at rows[r] + u*block_bytes) -> dst, unit by unit.
void repack_tile(DType t, const uint8_t* const* rows, int64_t units, uint8_t* dst) {
    const size_t ub = unit_bytes(t);
    for (int64_t u = 0; u < units; ++u, dst += ub) {
        switch (t) {
            case DType::Q4_0:
            case DType::IQ4_NL:  // same block layout {f16 d; u8 qs[16]}
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 18;
                    for (int j = 0; j < 4; ++j) lane4(dst + 64 * j, r, b + 2 + 4 * j);
                    std::memcpy(dst + 256 + 2 * r, b, 2);
                }
                break;
            case DType::Q4_1:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 20;
                    for (int j = 0; j < 4; ++j) lane4(dst + 64 * j, r, b + 4 + 4 * j);
                    std::memcpy(dst + 256 + 2 * r, b, 2);
                    std::memcpy(dst + 288 + 2 * r, b + 2, 2);
                }
                break;
            case DType::Q2_K:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 84;
                    for (int h = 0; h < 2; ++h)
                        for (int g = 0; g < 8; ++g) lane4(dst + 64 * (8 * h + g), r, b + 16 + 32 * h + 4 * g);
                    for (int i = 0; i < 16; ++i) dst[1024 + 16 * i + r] = b[i];
                    std::memcpy(dst + 1280 + 2 * r, b + 80, 2);
                    std::memcpy(dst + 1312 + 2 * r, b + 82, 2);
                }
                break;
            case DType::Q3_K:  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 110;
                    for (int h = 0; h < 2; ++h)
                        for (int g = 0; g < 8; ++g) lane4(dst + 64 * (8 * h + g), r, b + 32 + 32 * h + 4 * g);
                    for (int g = 0; g < 8; ++g) lane4(dst + 1024 + 64 * g, r, b + 4 * g);
                    const uint8_t* sc = b + 96;  // 16 six-bit scales: low 4 bits in bytes 0..7, high 2 in 8..11
                    for (int i = 0; i < 16; ++i) {
                        const int lo = i < 8 ? (sc[i] & 0x0F) : (sc[i - 8] >> 4);
                        const int hi = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
                        dst[1536 + 16 * i + r] = static_cast<uint8_t>(lo | (hi << 4));
                    }
                    std::memcpy(dst + 1792 + 2 * r, b + 108, 2);
                }
                break;
            case DType::Q5_0:
            case DType::Q5_1: {
                const bool one = t == DType::Q5_1;  // Q5_1: {f16 d; f16 m; u32 qh; u8 qs[16]}
                const int bb = one ? 24 : 22, hoff = one ? 4 : 2;
                uint64_t lo[4] = {}, hi[4] = {};
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * bb;
                    uint32_t qh;
                    std::memcpy(&qh, b + hoff, 4);
                    for (int j = 0; j < 4; ++j) {
                        lane4(dst + 64 * j, r, b + hoff + 4 + 4 * j);
                        for (int e = 0; e < 4; ++e) {
                            lo[j] |= static_cast<uint64_t>((qh >> (4 * j + e)) & 1u) << (4 * r + e);
                            hi[j] |= static_cast<uint64_t>((qh >> (16 + 4 * j + e)) & 1u) << (4 * r + e);
                        }
                    }
                    std::memcpy(dst + 320 + 2 * r, b, 2);
                    if (one) std::memcpy(dst + 352 + 2 * r, b + 2, 2);
                }
                for (int j = 0; j < 4; ++j) {
                    std::memcpy(dst + 256 + 16 * j, &lo[j], 8);
                    std::memcpy(dst + 256 + 16 * j + 8, &hi[j], 8);
                }
                break;
            }
            case DType::Q8_0:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 34;
                    for (int g = 0; g < 8; ++g)
                        for (int e = 0; e < 4; ++e) dst[64 * g + 4 * r + e] = static_cast<uint8_t>(b[2 + 4 * g + e] ^ 0x80);
                    std::memcpy(dst + 512 + 2 * r, b, 2);
                }
                break;
            case DType::Q4_K:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 144;
                    for (int c = 0; c < 4; ++c)
                        for (int g = 0; g < 8; ++g) lane4(dst + 64 * (8 * c + g), r, b + 16 + 32 * c + 4 * g);
                    std::memcpy(dst + 2048 + 2 * r, b, 2);
                    std::memcpy(dst + 2080 + 2 * r, b + 2, 2);
                    for (int s = 0; s < 8; ++s) k4_scale_min(b + 4, s, dst[2112 + 16 * s + r], dst[2240 + 16 * s + r]);
                }
                break;
            case DType::Q5_K:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 176;
                    for (int c = 0; c < 4; ++c)
                        for (int g = 0; g < 8; ++g) lane4(dst + 64 * (8 * c + g), r, b + 48 + 32 * c + 4 * g);
                    for (int g = 0; g < 8; ++g) lane4(dst + 2048 + 64 * g, r, b + 16 + 4 * g);
                    std::memcpy(dst + 2560 + 2 * r, b, 2);
                    std::memcpy(dst + 2592 + 2 * r, b + 2, 2);
                    for (int s = 0; s < 8; ++s) k4_scale_min(b + 4, s, dst[2624 + 16 * s + r], dst[2752 + 16 * s + r]);
                }
                break;
            case DType::IQ4_XS:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 136;
                    for (int s = 0; s < 8; ++s)
                        for (int j = 0; j < 4; ++j) lane4(dst + 256 * s + 64 * j, r, b + 8 + 16 * s + 4 * j);
                    std::memcpy(dst + 2048 + 2 * r, b, 2);
                    const unsigned sh = static_cast<unsigned>(b[2]) | (static_cast<unsigned>(b[3]) << 8);
                    for (int s = 0; s < 8; ++s)
                        dst[2080 + 16 * s + r] =
                            static_cast<uint8_t>(((b[4 + s / 2] >> (4 * (s % 2))) & 0x0F) | (((sh >> (2 * s)) & 3) << 4));
                }
                break;
            case DType::Q6_K:
                for (int r = 0; r < kR; ++r) {
                    const uint8_t* b = rows[r] + u * 210;
                    for (int h = 0; h < 2; ++h)
                        for (int g = 0; g < 8; ++g) {
                            uint8_t* z = dst + 192 * (8 * h + g);
                            lane4(z, r, b + 64 * h + 4 * g);
                            lane4(z + 64, r, b + 64 * h + 32 + 4 * g);
                            lane4(z + 128, r, b + 128 + 32 * h + 4 * g);
                        }
                    for (int i = 0; i < 16; ++i) dst[3072 + 16 * i + r] = b[192 + i];
                    std::memcpy(dst + 3328 + 2 * r, b + 208, 2);
                }
                break;
            default: HEARTH_ASSERT_MSG(false, "repack: unsupported type");
        }
    }
}

// The registry: original data pointer -> repacked matrix. Reads (every quantized mul_mat) take a
// shared lock only when something is registered.
struct Registry {
    std::shared_mutex mu;
    std::unordered_map<const void*, const RepackedMatrix*> map;
    std::atomic<size_t> count{0};
};
Registry& registry() {
    static Registry* r = new Registry();  // never destroyed: models may outlive static teardown order
    return *r;
}

}  // namespace

bool repack_supported(DType t, int64_t rows, int64_t k) {
    if (unit_bytes(t) == 0 || rows <= 0 || rows % kRepackRows != 0 || k <= 0) return false;
    return k % dtype_traits(t).block_elems == 0;
}

size_t repacked_bytes(DType t, int64_t rows, int64_t k) {
    HEARTH_ASSERT(repack_supported(t, rows, k));
    const int64_t units = k / dtype_traits(t).block_elems;
    return unit_bytes(t) * static_cast<size_t>(units) * static_cast<size_t>(rows / kRepackRows);
}

void repack_weights(DType t, const void* w, size_t w_row_bytes, int64_t rows, int64_t k, void* dst) {
    if (!repack_supported(t, rows, k))
        throw Error(ErrorKind::InvalidArgument, std::string("repack: no repacked layout for ") + dtype_name(t) + " " +
                                                    std::to_string(rows) + "x" + std::to_string(k));
    if (w_row_bytes < dtype_row_bytes(t, k)) throw Error(ErrorKind::InvalidArgument, "repack: row stride smaller than a row");
    const int64_t units = k / dtype_traits(t).block_elems;
    const size_t tile_bytes = unit_bytes(t) * static_cast<size_t>(units);
    for (int64_t t0 = 0; t0 < rows; t0 += kRepackRows) {
        const uint8_t* rp[kR];
        for (int r = 0; r < kR; ++r) rp[r] = static_cast<const uint8_t*>(w) + static_cast<size_t>(t0 + r) * w_row_bytes;
        repack_tile(t, rp, units, static_cast<uint8_t*>(dst) + static_cast<size_t>(t0 / kRepackRows) * tile_bytes);
    }
}

bool repacked_kernel_available(Isa isa) {
#if defined(HEARTH_X86)
    if (isa == Isa::Avx512) return best_isa() == Isa::Avx512;
    if (isa == Isa::Avx2) return static_cast<int>(best_isa()) >= static_cast<int>(Isa::Avx2);
    return false;
#else
    (void)isa;
    return false;
#endif
}

bool repacked_kernel_supports(Isa isa, DType t) {
    if (!repacked_kernel_available(isa) || unit_bytes(t) == 0) return false;
#if defined(HEARTH_X86)
    return isa == Isa::Avx512 || detail::repacked_avx2_supports(t);
#else
    return false;
#endif
}

void matmul_repacked_isa(Isa isa, DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0,
                         int64_t r1, float* out, int64_t out_stride) {
    if (unit_bytes(t) == 0 || k <= 0 || k % dtype_traits(t).block_elems != 0 || n < 0 || r0 < 0 || r1 < r0 ||
        r0 % kRepackRows != 0 || r1 % kRepackRows != 0)
        throw Error(ErrorKind::InvalidArgument, "repacked matmul: bad type, k or row range");
    if (!repacked_kernel_supports(isa, t))
        throw Error(ErrorKind::Unsupported, std::string("repacked matmul: no ") + isa_name(isa) + " kernel for " +
                                                dtype_name(t) + " on this CPU");
    if (n > 1 && out_stride < r1) throw Error(ErrorKind::InvalidArgument, "repacked matmul: output stride too small");
    if (n == 0 || r0 == r1) return;
#if defined(HEARTH_X86)
    if (isa == Isa::Avx512)
        detail::matmul_repacked_avx512(t, packed, a_q, k, n, r0, r1, out, out_stride);
    else
        detail::matmul_repacked_avx2(t, packed, a_q, k, n, r0, r1, out, out_stride);
#endif
}

void matmul_repacked(DType t, const void* packed, const void* a_q, int64_t k, int64_t n, int64_t r0, int64_t r1,
                     float* out, int64_t out_stride) {
    matmul_repacked_isa(Isa::Avx512, t, packed, a_q, k, n, r0, r1, out, out_stride);
}

// AVX-512: the repacked copy serves every batch size, so the original rows are never read again
// and their pages can be released (one resident copy of each matrix). For Q6_K prompt batches the
// panel kernel on the original rows was ~15% faster on those matrices; memory wins here.
bool repacked_preferred(DType t, int64_t n) {
    (void)t;
    (void)n;
    return true;
}

bool repacked_preferred(Isa isa, DType t, int64_t n) {
    // AVX2 (1024x3072, single thread, loaded machine): repacked 1.4-3.5x faster at n = 1, 1.1-1.3x
    // at n = 4, about even at n = 8 (some types win, some lose), 1.1-1.5x slower at prompt sizes,
    // where the panel is decoded once and reused by many 4-column tiles.
    if (isa == Isa::Avx2) return n <= 4;
    return repacked_preferred(t, n);
}

bool RepackedWeights::originals_unused() const { return isa_ == Isa::Avx512 && !mats_.empty(); }

namespace {

// Drops this process's pages wholly inside [begin, end) (a read-only file mapping: they read back
// from the file if touched again, e.g. by get_rows on a tied embedding), unlocking them first when
// the mapping is mlock'ed (MADV_DONTNEED refuses locked pages). The range is then marked
// MADV_RANDOM: no read-ahead or fault-around maps it back in when a neighbouring tensor (a norm
// vector) faults. Returns the bytes dropped.
size_t drop_pages(uintptr_t begin, uintptr_t end, bool unlock) {
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t a = (begin + page - 1) / page * page, b = end / page * page;
    if (b <= a) return 0;
    if (unlock) munlock(reinterpret_cast<void*>(a), b - a);
    if (madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED) != 0) return 0;
    madvise(reinterpret_cast<void*>(a), b - a, MADV_RANDOM);
    return b - a;
}

}  // namespace

bool repack_enabled() {
    const char* e = std::getenv("HEARTH_NO_REPACK");
    return !(e && *e && std::strcmp(e, "0") != 0);
}

RepackedWeights::RepackedWeights(const std::vector<WeightDesc>& weights, const RepackOptions& options) {
    if (!repack_enabled() || !repacked_kernel_available(active_isa())) return;
    isa_ = active_isa();
    try {
        RepackOptions o = options;
        o.release_originals = o.release_originals && isa_ == Isa::Avx512;
        add_all(weights, o);
        if (lock_refused_ > 0)
            lock_warning_ = "mlock of " + std::to_string(lock_refused_ >> 20) + " MiB of repacked weights (of " +
                            std::to_string(bytes_ >> 20) +
                            " MiB) failed: those pages may be swapped out. Raise the limit with `ulimit -l unlimited` "
                            "(or a 'memlock' line in /etc/security/limits.conf)";
    } catch (...) {
        release();  // no registered entry may outlive this half-built object
        throw;
    }
}

void RepackedWeights::lock_copy(RepackedMatrix& m) {
    if (mlock(m.packed, m.bytes) == 0) {
        locked_ += m.bytes;
        m.locked = true;
    } else {
        lock_refused_ += m.bytes;
    }
}

void RepackedWeights::add_all(const std::vector<WeightDesc>& weights, const RepackOptions& options) {
    const bool release_originals = options.release_originals;
    Registry& reg = registry();
    for (const WeightDesc& d : weights) {
        if (!d.data || !repack_supported(d.type, d.rows, d.k) || !repacked_kernel_supports(isa_, d.type) ||
            d.row_bytes < dtype_row_bytes(d.type, d.k))
            continue;
        {
            std::shared_lock lock(reg.mu);
            if (reg.map.count(d.data)) continue;  // the same tensor bound twice (tied output)
        }
        auto m = std::make_unique<RepackedMatrix>();
        m->data = d.data;
        m->type = d.type;
        m->k = d.k;
        m->rows = d.rows;
        m->row_bytes = d.row_bytes;
        m->bytes = repacked_bytes(d.type, d.rows, d.k);
        m->packed = std::aligned_alloc(64, (m->bytes + 63) / 64 * 64);
        if (!m->packed) throw Error(ErrorKind::OutOfMemory, "repack: cannot allocate " + std::to_string(m->bytes) + " bytes");
        // In slices of whole 16-row groups (the packed layout is row-linear), dropping each slice's
        // original pages right after it is packed when asked to.
        constexpr int64_t kSliceRows = 1024;
        const uintptr_t base = reinterpret_cast<uintptr_t>(d.data);
        if (release_originals && !d.keep_original) {
            m->originals_released = true;
            const uintptr_t first = base / kWindow, last = (base + static_cast<size_t>(d.rows) * d.row_bytes) / kWindow;
            m->touched_windows = std::vector<std::atomic<uint64_t>>((last - first + 1 + 63) / 64);
        }
        uintptr_t dropped_to = base;
        for (int64_t r0 = 0; r0 < d.rows; r0 += kSliceRows) {
            const int64_t nr = std::min(kSliceRows, d.rows - r0);
            repack_weights(d.type, static_cast<const char*>(d.data) + static_cast<size_t>(r0) * d.row_bytes, d.row_bytes, nr,
                           d.k, static_cast<char*>(m->packed) + (r0 == 0 ? 0 : repacked_bytes(d.type, r0, d.k)));
            if (release_originals && !d.keep_original) {
                const uintptr_t end = base + static_cast<size_t>(r0 + nr) * d.row_bytes;
                released_ += drop_pages(dropped_to, end, options.lock);
                const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
                dropped_to = end / page * page;  // the page straddling the slice end goes with the next slice
            }
        }
        bytes_ += m->bytes;
        {
            std::unique_lock lock(reg.mu);
            reg.map[d.data] = m.get();
            reg.count.fetch_add(1);
        }
        mats_.push_back(std::move(m));
        if (options.lock) lock_copy(*mats_.back());
    }
}

RepackedWeights::~RepackedWeights() { release(); }

void RepackedWeights::release() {
    Registry& reg = registry();
    {
        std::unique_lock lock(reg.mu);
        for (const auto& m : mats_) {
            auto it = reg.map.find(m->data);
            if (it != reg.map.end() && it->second == m.get()) {
                reg.map.erase(it);
                reg.count.fetch_sub(1);
            }
        }
    }
    for (const auto& m : mats_) {
        if (m->locked) munlock(m->packed, m->bytes);
        std::free(m->packed);
    }
    mats_.clear();
    bytes_ = 0;
    locked_ = 0;
}

void note_original_rows_read(const RepackedMatrix& m, const void* const* rows, size_t count) {
    if (!m.originals_released || count == 0) return;
    const uintptr_t base = reinterpret_cast<uintptr_t>(m.data) / kWindow * kWindow;
    for (size_t i = 0; i < count; ++i) {
        const uintptr_t r = reinterpret_cast<uintptr_t>(rows[i]);
        for (uintptr_t w = (r - base) / kWindow; w <= (r + m.row_bytes - 1 - base) / kWindow; ++w)
            m.touched_windows[w / 64].fetch_or(uint64_t(1) << (w % 64), std::memory_order_relaxed);
    }
    const uint32_t before = m.rows_read.fetch_add(static_cast<uint32_t>(count), std::memory_order_relaxed);
    if (before + count < kRowsBetweenReleases) return;
    // The thread whose rows crossed the threshold drops every touched window, clipped to the
    // matrix (all of whose original pages were released already, so nothing else of it is lost).
    if (before >= kRowsBetweenReleases) return;  // another thread is releasing this round
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t lo = reinterpret_cast<uintptr_t>(m.data) / page * page;
    const uintptr_t hi = (reinterpret_cast<uintptr_t>(m.data) + static_cast<size_t>(m.rows) * m.row_bytes + page - 1) / page * page;
    for (size_t i = 0; i < m.touched_windows.size(); ++i) {
        uint64_t bits = m.touched_windows[i].exchange(0, std::memory_order_relaxed);
        while (bits) {
            const uintptr_t w = base + (64 * i + static_cast<uintptr_t>(__builtin_ctzll(bits))) * kWindow;
            bits &= bits - 1;
            const uintptr_t a = std::max(lo, w), b = std::min(hi, w + kWindow);
            if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
        }
    }
    m.rows_read.store(0, std::memory_order_relaxed);
}

const RepackedMatrix* find_repacked(const void* data) {
    Registry& reg = registry();
    if (reg.count.load(std::memory_order_acquire) == 0) return nullptr;
    std::shared_lock lock(reg.mu);
    auto it = reg.map.find(data);
    return it == reg.map.end() ? nullptr : it->second;
}

}  // namespace hearth::cpu
