// Paged KV cache bookkeeping (cells, pages, sequences) and its lazily backed memory: the whole pool
// is reserved once with mmap(MAP_NORESERVE); pages get physical memory when first written; a page
// whose last cell is freed stays backed within the retain budget, else goes back (madvise DONTNEED).
#include "runtime/kv_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/hadamard.h"
#include "model/hparams.h"

namespace hearth {

KvCache::KvCache(const HParams& hp, int64_t n_cells, int n_seq_max, DType type_k, DType type_v, bool hadamard_k,
                 bool hadamard_v)
    : n_cells_(n_cells), n_seq_max_(n_seq_max), type_k_(type_k), type_v_(type_v), had_k_(hadamard_k), had_v_(hadamard_v),
      n_layer_(hp.n_layer) {
    if (n_cells <= 0) throw Error(ErrorKind::InvalidArgument, "n_ctx must be positive, got " + std::to_string(n_cells));
    if (n_seq_max < 1 || n_seq_max > kMaxSeq)
        throw Error(ErrorKind::InvalidArgument,
                    "n_seq_max = " + std::to_string(n_seq_max) + " is out of range [1, " + std::to_string(kMaxSeq) + "]");
    struct Part {
        DType t;
        int64_t hd;
        bool had;
        const char *flag, *had_flag;
    };
    for (const Part& p : {Part{type_k, hp.head_dim_k, hadamard_k, "-ctk", "-khad"}, Part{type_v, hp.head_dim_v, hadamard_v, "-ctv", "-vhad"}}) {
        switch (p.t) {
            case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q5_0:
            case DType::Q5_1: case DType::Q4_0: case DType::Q4_1: case DType::IQ4_NL: break;
            default:
                throw Error(ErrorKind::InvalidArgument, std::string(p.flag) + ": KV cache type " + dtype_name(p.t) +
                                                            " is not supported (f32, f16, bf16, q8_0, q5_0, q5_1, q4_0, q4_1, iq4_nl)");
        }
        const int64_t be = dtype_traits(p.t).block_elems;
        if (p.hd % be != 0)
            throw Error(ErrorKind::InvalidArgument, std::string(p.flag) + ": KV cache type " + dtype_name(p.t) +
                                                        " needs the head dimension (" + std::to_string(p.hd) +
                                                        ") to be a multiple of " + std::to_string(be));
        if (p.had && !hadamard_length_ok(p.hd))
            throw Error(ErrorKind::InvalidArgument, std::string(p.had_flag) + ": the Hadamard rotation needs a power-of-two head dimension, got " +
                                                        std::to_string(p.hd));
    }
    k_row_ = dtype_row_bytes(type_k, hp.n_embd_k_gqa());
    v_row_ = dtype_row_bytes(type_v, hp.n_embd_v_gqa());

    // Layer-major layout: [layer][K: n_cells rows of k_row_][V: n_cells rows of v_row_], each part
    // rounded up to the OS page so a KV page maps onto whole OS pages where row sizes allow.
    const size_t os_page = size_t(sysconf(_SC_PAGESIZE));
    auto round_up = [&](size_t b) { return (b + os_page - 1) / os_page * os_page; };
    const size_t k_bytes = round_up(k_row_ * size_t(n_cells)), v_bytes = round_up(v_row_ * size_t(n_cells));
    region_bytes_ = (k_bytes + v_bytes) * size_t(n_layer_);
    if (region_bytes_ > 0) {
        region_ = mmap(nullptr, region_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (region_ == MAP_FAILED) {
            region_ = nullptr;
            throw Error(ErrorKind::OutOfMemory, "cannot reserve " + std::to_string(region_bytes_ >> 20) +
                                                    " MiB of address space for the KV cache (n_ctx = " + std::to_string(n_cells) +
                                                    "); use a smaller context (-c)");
        }
    }
    layers_.resize(size_t(n_layer_));
    for (int64_t il = 0; il < n_layer_; ++il) {
        uint8_t* base = static_cast<uint8_t*>(region_) + size_t(il) * (k_bytes + v_bytes);
        layers_[size_t(il)] = {base, base + k_bytes};
    }
    cells_.assign(size_t(n_cells), Cell{});
    page_used_.assign(size_t((n_cells + kPageCells - 1) / kPageCells), 0);
    page_backed_.assign(page_used_.size(), 0);
    open_page_.assign(size_t(n_seq_max), -1);
}

KvCache::~KvCache() {
    if (region_) munmap(region_, region_bytes_);
}

std::vector<int32_t> KvCache::place(const int32_t* pos, const int32_t* seq, size_t n) {
    std::vector<int32_t> placed;
    placed.reserve(n);
    const int64_t n_pages = int64_t(page_used_.size());
    auto page_end = [&](int64_t p) { return std::min(n_cells_, (p + 1) * kPageCells); };
    auto free_in_page = [&](int64_t p) -> int64_t {
        if (page_used_[size_t(p)] >= page_end(p) - p * kPageCells) return -1;
        for (int64_t c = p * kPageCells; c < page_end(p); ++c)
            if (cells_[size_t(c)].seqs == 0) return c;
        return -1;
    };
    for (size_t i = 0; i < n; ++i) {
        const int32_t s = seq[i];
        HEARTH_ASSERT(s >= 0 && s < n_seq_max_);
        int64_t cell = -1;
        if (open_page_[size_t(s)] >= 0) cell = free_in_page(open_page_[size_t(s)]);
        // A fresh page for this sequence: a retained (still backed) one first, else the lowest.
        for (int pass = retained_pages_ > 0 ? 0 : 1; cell < 0 && pass < 2; ++pass)
            for (int64_t p = 0; cell < 0 && p < n_pages; ++p) {
                if (page_used_[size_t(p)] == 0 && (pass == 1 || page_backed_[size_t(p)])) {
                    cell = p * kPageCells;
                    open_page_[size_t(s)] = int32_t(p);
                }
            }
        for (int64_t p = 0; cell < 0 && p < n_pages; ++p) cell = free_in_page(p);  // any hole
        if (cell < 0) {
            unplace(placed);
            throw Error(ErrorKind::OutOfMemory, "KV cache is full: n_ctx = " + std::to_string(n_cells_) + " cells are in use by " +
                                                    "the sequences (increase the context size with -c / n_ctx, or free sequences)");
        }
        cells_[size_t(cell)] = {pos[i], uint64_t(1) << s};
        const size_t pg = size_t(cell / kPageCells);
        if (page_used_[pg]++ == 0) {
            if (page_backed_[pg]) retained_pages_--;
            else populate_page(int64_t(pg));
            page_backed_[pg] = 1;
        }
        cells_used_++;
        placed.push_back(int32_t(cell));
    }
    return placed;
}

void KvCache::unplace(const std::vector<int32_t>& cells) {
    for (int32_t c : cells) free_cell(c);
}

void KvCache::free_cell(int64_t c) {
    Cell& cell = cells_[size_t(c)];
    HEARTH_ASSERT(cells_used_ > 0);
    cell = Cell{};
    cells_used_--;
    const int64_t p = c / kPageCells;
    if (--page_used_[size_t(p)] == 0) {
        for (int32_t& op : open_page_)
            if (op == p) op = -1;
        retained_pages_++;  // backed since it held a cell
        trim_retained();
    }
}

void KvCache::trim_retained() {
    const uint64_t pb = std::max<uint64_t>(1, page_bytes());
    for (int64_t p = int64_t(page_used_.size()) - 1; p >= 0 && uint64_t(retained_pages_) * pb > kRetainBytes; --p)
        if (page_used_[size_t(p)] == 0 && page_backed_[size_t(p)]) {
            release_page(p);
            page_backed_[size_t(p)] = 0;
            retained_pages_--;
        }
}

bool KvCache::advise_page(int64_t page, bool inner, int advice) {
    // A KV page is one byte range per layer and part (K, V); OS pages inside it (`inner`), or every
    // OS page it touches.
    const size_t os_page = size_t(sysconf(_SC_PAGESIZE));
    const int64_t c0 = page * kPageCells, c1 = std::min(n_cells_, c0 + kPageCells);
    for (const Layer& l : layers_) {
        for (auto [base, row] : {std::pair{l.k, k_row_}, std::pair{l.v, v_row_}}) {
            uintptr_t b = uintptr_t(base + size_t(c0) * row), e = uintptr_t(base + size_t(c1) * row);
            b = (inner ? b + os_page - 1 : b) / os_page * os_page;
            e = (inner ? e : e + os_page - 1) / os_page * os_page;
            if (e > b && madvise(reinterpret_cast<void*>(b), e - b, advice) != 0) return false;
        }
    }
    return true;
}

void KvCache::release_page(int64_t page) {
    // Give the page's memory back to the OS: only whole OS pages inside the KV page's byte range.
    advise_page(page, true, MADV_DONTNEED);
}

void KvCache::populate_page(int64_t page) {
#ifdef MADV_POPULATE_WRITE
    // Decode writes one row per layer per token, so a lazily backed page would fault once per OS
    // page of every layer's K and V (~28 faults a token for a 0.6B model, microseconds each in a
    // VM), on the threads of the compute. Back the whole page here instead; a kernel without
    // MADV_POPULATE_WRITE (before 5.14) refuses it and the pages fault in as before.
    advise_page(page, false, MADV_POPULATE_WRITE);
#else
    (void)page;
#endif
}

void KvCache::remove(int32_t seq, int32_t p0, int32_t p1) {
    if (seq >= n_seq_max_) return;
    const uint64_t bits = seq < 0 ? ~uint64_t(0) : uint64_t(1) << seq;
    if (p0 < 0) p0 = 0;
    for (int64_t c = 0; c < n_cells_; ++c) {
        Cell& cell = cells_[size_t(c)];
        if (!(cell.seqs & bits) || cell.pos < p0 || (p1 >= 0 && cell.pos >= p1)) continue;
        cell.seqs &= ~bits;
        if (cell.seqs == 0) free_cell(c);
    }
}

void KvCache::copy(int32_t src_seq, int32_t dst_seq) {
    if (src_seq == dst_seq) return;
    remove(dst_seq, 0, -1);
    const uint64_t sbit = uint64_t(1) << src_seq, dbit = uint64_t(1) << dst_seq;
    for (Cell& cell : cells_)
        if (cell.seqs & sbit) cell.seqs |= dbit;
}

void KvCache::clear() {
    for (int64_t c = 0; c < n_cells_; ++c)
        if (cells_[size_t(c)].seqs) free_cell(c);
    std::fill(open_page_.begin(), open_page_.end(), -1);
}

int32_t KvCache::pos_max(int32_t seq) const {
    if (seq < 0 || seq >= n_seq_max_) return -1;
    int32_t m = -1;
    const uint64_t bit = uint64_t(1) << seq;
    for (const Cell& c : cells_)
        if ((c.seqs & bit) && c.pos > m) m = c.pos;
    return m;
}

int64_t KvCache::n_kv() const {
    // Up to the last used cell of the last used page, rounded up to 32 cells (attention tiles).
    for (int64_t p = int64_t(page_used_.size()) - 1; p >= 0; --p) {
        if (page_used_[size_t(p)] == 0) continue;
        int64_t last = std::min(n_cells_, (p + 1) * kPageCells) - 1;
        while (cells_[size_t(last)].seqs == 0) --last;
        return std::min(n_cells_, (last + 32) / 32 * 32);
    }
    return 0;
}

KvCacheStats KvCache::stats() const {
    KvCacheStats s;
    const uint64_t per_cell = uint64_t(k_row_ + v_row_) * uint64_t(n_layer_);
    for (size_t p = 0; p < page_used_.size(); ++p)
        if (page_used_[p] > 0) s.pages_used++;
    s.cells_used = cells_used_;
    s.bytes_used = per_cell * uint64_t(cells_used_);
    s.bytes_allocated = per_cell * uint64_t(s.pages_used) * uint64_t(kPageCells);
    s.bytes_capacity = per_cell * uint64_t(n_cells_);
    s.bytes_retained = per_cell * uint64_t(retained_pages_) * uint64_t(kPageCells);
    return s;
}

}  // namespace hearth
