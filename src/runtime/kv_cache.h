// Paged KV cache: one pool of n_cells cells shared by every sequence, handed out in pages of
// kPageCells cells. Each layer's K and V live in one virtual reservation [n_cells, row bytes]
// that the OS backs with memory only when a page is first written, so a long default context costs
// memory only as it fills. A page whose cells are all free again stays backed while the free-but-
// backed pages total at most kRetainBytes (the next prompt reuses them without page faults); pages
// beyond that budget are returned to the OS.
// A cell holds one token: its position and the set of sequences that see it (kv_copy shares cells).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/dtype.h"

namespace hearth {

struct HParams;

struct KvCacheStats {
    uint64_t bytes_allocated = 0;  // bytes of pages in use (backed by memory)
    uint64_t bytes_retained = 0;   // bytes of free pages kept backed for reuse (<= kRetainBytes)
    uint64_t bytes_used = 0;       // bytes of cells holding a token
    uint64_t bytes_capacity = 0;   // bytes when every cell is in use
    int64_t cells_used = 0;
    int64_t pages_used = 0;
};

class KvCache {
public:
    static constexpr int64_t kPageCells = 256;
    static constexpr int kMaxSeq = 64;
    // Free pages kept backed (written before, all cells free again) for reuse, at most this many
    // bytes: re-faulting and zeroing a page costs ~5% of a prompt's time when a context is cleared
    // and refilled (a server slot's next request, a benchmark repetition).
    static constexpr uint64_t kRetainBytes = uint64_t(64) << 20;

    // Seeds of the Hadamard rotations (core/hadamard.h) applied per head when k_hadamard() /
    // v_hadamard(): a K row then holds H_K·rope(k) per head, a V row H_V·v. Both 0: the plain
    // normalised Walsh-Hadamard transform, which is what llama.cpp applies on its own to quantized
    // caches (head_dim 64: the same cache contents and results as llama.cpp's default).
    static constexpr uint64_t kHadamardSeedK = 0;
    static constexpr uint64_t kHadamardSeedV = 0;

    // n_cells: pool size (tokens, all sequences together). K rows are n_head_kv*head_dim_k elements
    // of type_k per cell and layer, V rows n_head_kv*head_dim_v of type_v. type_k/type_v: f32, f16,
    // bf16, q8_0, q5_0, q5_1, q4_0, q4_1, iq4_nl (a block type needs head_dim % 32 == 0); the
    // Hadamard flags need a power-of-two head_dim. Violations throw Error(InvalidArgument).
    KvCache(const HParams& hp, int64_t n_cells, int n_seq_max, DType type_k, DType type_v, bool hadamard_k = false,
            bool hadamard_v = false);
    ~KvCache();
    KvCache(const KvCache&) = delete;
    KvCache& operator=(const KvCache&) = delete;

    // Finds a cell for each token (pos[i], seq[i]) and marks it used; returns the cell indices.
    // A sequence fills its own partly used page first, then takes the lowest free page that is still
    // backed (retained), else the lowest free page. Throws
    // Error(OutOfMemory) naming n_ctx when the pool is full; then nothing was placed.
    std::vector<int32_t> place(const int32_t* pos, const int32_t* seq, size_t n);
    // Undo a place() (the compute that should have filled the cells failed).
    void unplace(const std::vector<int32_t>& cells);

    void remove(int32_t seq, int32_t p0, int32_t p1);  // p1 < 0: to the end; seq < 0: all sequences
    void copy(int32_t src_seq, int32_t dst_seq);        // dst := src, sharing cells
    void clear();
    int32_t pos_max(int32_t seq) const;  // -1 when empty
    // Adds delta to the positions of seq's cells in [p0, p1) (p1 < 0: to the end), un-sharing cells
    // shared with other sequences first (copies; Error(OutOfMemory) when none is free, nothing changed)
    // and freeing those that would go negative. Returns the moved cells, whose K rows the caller must
    // re-rotate (runtime/kv_shift.h, where this is defined).
    std::vector<int32_t> shift_positions(int32_t seq, int32_t p0, int32_t p1, int32_t delta);

    // Cells attention must scan: [0, n_kv()) covers every used cell (rounded up to 32 cells).
    int64_t n_kv() const;
    // Per cell in [0, n_kv): whether sequence `seq` sees it, and its position (-1 when free).
    bool visible(int64_t cell, int32_t seq) const { return (cells_[size_t(cell)].seqs >> seq) & 1u; }
    int32_t cell_pos(int64_t cell) const { return cells_[size_t(cell)].pos; }

    uint8_t* k_data(int64_t il) const { return layers_[size_t(il)].k; }
    uint8_t* v_data(int64_t il) const { return layers_[size_t(il)].v; }
    size_t k_row_bytes() const { return k_row_; }
    size_t v_row_bytes() const { return v_row_; }
    DType type_k() const { return type_k_; }
    DType type_v() const { return type_v_; }
    bool k_hadamard() const { return had_k_; }
    bool v_hadamard() const { return had_v_; }
    int64_t n_cells() const { return n_cells_; }
    int n_seq_max() const { return n_seq_max_; }
    KvCacheStats stats() const;

private:
    struct Cell {
        int32_t pos = -1;
        uint64_t seqs = 0;  // bit s: sequence s sees this cell
    };
    struct Layer {
        uint8_t* k = nullptr;
        uint8_t* v = nullptr;
    };
    void free_cell(int64_t c);
    void release_page(int64_t page);
    void populate_page(int64_t page);  // backs a page's memory in one call (no fault per OS page)
    bool advise_page(int64_t page, bool inner, int advice);  // madvise over the page's byte ranges
    void trim_retained();  // releases the highest retained pages until within kRetainBytes
    uint64_t page_bytes() const { return uint64_t(k_row_ + v_row_) * uint64_t(n_layer_) * uint64_t(kPageCells); }

    int64_t n_cells_;
    int n_seq_max_;
    DType type_k_, type_v_;
    bool had_k_, had_v_;
    size_t k_row_, v_row_;
    int64_t n_layer_;
    std::vector<Layer> layers_;
    void* region_ = nullptr;  // one reservation for all layers' K and V
    size_t region_bytes_ = 0;
    std::vector<Cell> cells_;
    std::vector<int32_t> page_used_;   // used cells per page
    std::vector<int32_t> open_page_;   // per sequence: page it is filling (-1 none)
    std::vector<uint8_t> page_backed_; // 1: written since it was last returned to the OS
    int64_t retained_pages_ = 0;       // pages with no used cell that are still backed
    int64_t cells_used_ = 0;
};

}  // namespace hearth
