// KV-cache shift: the cell bookkeeping (KvCache::shift_positions, un-sharing shared cells first) and
// the K re-rotation of every moved cell, head by head, through the cache's storage type and the
// optional Hadamard rotation (see kv_shift.h).
#include "runtime/kv_shift.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hadamard.h"
#include "core/ops.h"
#include "model/arch.h"
#include "model/graph.h"
#include "model/hparams.h"
#include "quant/quant.h"
#include "runtime/kv_cache.h"

namespace hearth {

namespace {

// cos/sin of pair i's angle for `delta` positions: delta * freq_scale * base^(-2i/n_dims), the same
// angle the rope op uses (backend/cpu/cpu_ops_attention.cpp), in double.
void rotation_table(const ops::RopeParams& rp, int32_t delta, std::vector<float>& cs, std::vector<float>& sn) {
    if (rp.ext_factor != 0.0f) throw Error(ErrorKind::Unsupported, "kv_shift: YaRN rope (ext_factor != 0) cannot be shifted yet");
    const int half = rp.n_dims / 2;
    cs.resize(size_t(half));
    sn.resize(size_t(half));
    for (int i = 0; i < half; ++i) {
        const double theta = double(delta) * double(rp.freq_scale) * std::pow(double(rp.freq_base), -2.0 * i / double(rp.n_dims));
        cs[size_t(i)] = float(std::cos(theta));
        sn[size_t(i)] = float(std::sin(theta));
    }
}

void rotate(float* x, const ops::RopeParams& rp, const float* cs, const float* sn) {
    const int half = rp.n_dims / 2;
    if (rp.mode == ops::RopeMode::NeoX) {  // pairs (i, i + n_dims/2)
        for (int i = 0; i < half; ++i) {
            const float a = x[i], b = x[i + half];
            x[i] = a * cs[i] - b * sn[i];
            x[i + half] = a * sn[i] + b * cs[i];
        }
    } else {  // adjacent pairs (2i, 2i+1)
        for (int i = 0; i < half; ++i) {
            const float a = x[2 * i], b = x[2 * i + 1];
            x[2 * i] = a * cs[i] - b * sn[i];
            x[2 * i + 1] = a * sn[i] + b * cs[i];
        }
    }
}

}  // namespace

void rope_rotate_by(float* x, const ops::RopeParams& rp, int32_t delta) {
    std::vector<float> cs, sn;
    rotation_table(rp, delta, cs, sn);
    rotate(x, rp, cs.data(), sn.data());
}

std::vector<int32_t> KvCache::shift_positions(int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    HEARTH_ASSERT(seq >= 0 && seq < n_seq_max_);
    const uint64_t bit = uint64_t(1) << seq;
    auto selected = [&](const Cell& c) { return (c.seqs & bit) && c.pos >= p0 && (p1 < 0 || c.pos < p1); };

    // Every selected position must stay representable.
    for (const Cell& c : cells_) {
        if (!selected(c)) continue;
        if (int64_t(c.pos) + delta > std::numeric_limits<int32_t>::max())
            throw Error(ErrorKind::InvalidArgument, "kv_shift: position " + std::to_string(c.pos) + " + " + std::to_string(delta) +
                                                        " overflows");
    }

    // Cells this sequence shares with others get a private copy first (the others keep theirs).
    std::vector<int32_t> shared, shared_pos;
    for (int64_t c = 0; c < n_cells_; ++c) {
        const Cell& cell = cells_[size_t(c)];
        if (selected(cell) && (cell.seqs & ~bit)) {
            shared.push_back(int32_t(c));
            shared_pos.push_back(cell.pos);
        }
    }
    if (!shared.empty()) {
        const std::vector<int32_t> seqs(shared.size(), seq);
        const std::vector<int32_t> fresh = place(shared_pos.data(), seqs.data(), shared.size());  // throws when full
        for (size_t i = 0; i < shared.size(); ++i) {
            for (const Layer& l : layers_) {
                std::memcpy(l.k + size_t(fresh[i]) * k_row_, l.k + size_t(shared[i]) * k_row_, k_row_);
                std::memcpy(l.v + size_t(fresh[i]) * v_row_, l.v + size_t(shared[i]) * v_row_, v_row_);
            }
            cells_[size_t(shared[i])].seqs &= ~bit;
        }
    }

    std::vector<int32_t> moved;
    for (int64_t c = 0; c < n_cells_; ++c) {
        Cell& cell = cells_[size_t(c)];
        if (!selected(cell)) continue;
        HEARTH_ASSERT(cell.seqs == bit);
        if (int64_t(cell.pos) + delta < 0) {
            free_cell(c);
            continue;
        }
        cell.pos += delta;
        moved.push_back(int32_t(c));
    }
    return moved;
}

void kv_shift(KvCache& kv, const HParams& hp, const ArchSpec& spec, int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    if (seq < 0 || seq >= kv.n_seq_max())
        throw Error(ErrorKind::InvalidArgument, "kv_shift: sequence id " + std::to_string(seq) + " is outside [0, n_seq_max = " +
                                                    std::to_string(kv.n_seq_max()) + ")");
    if (spec.rope == RopeKind::None)
        throw Error(ErrorKind::Unsupported, std::string("kv_shift: architecture ") + spec.name +
                                                " has absolute position embeddings; its cache cannot be shifted");
    if (delta == 0) return;
    for (int il = 0; il < int(hp.n_layer); ++il)  // validate before anything changes
        if (layer_rope_params(hp, spec, il).ext_factor != 0.0f)
            throw Error(ErrorKind::Unsupported, "kv_shift: YaRN rope (ext_factor != 0) cannot be shifted yet");
    const std::vector<int32_t> cells = kv.shift_positions(seq, p0, p1, delta);
    if (cells.empty()) return;

    // K row of a cell: n_head_kv heads of head_dim_k elements in type_k, each head its own blocks.
    const int64_t hd = hp.head_dim_k;
    const DType type = kv.type_k();
    const size_t head_bytes = dtype_row_bytes(type, hd);
    const bool had = kv.k_hadamard();
    std::vector<float> x(static_cast<size_t>(hd)), cs, sn;
    for (int il = 0; il < int(hp.n_layer); ++il) {
        const ops::RopeParams rp = layer_rope_params(hp, spec, il);
        rotation_table(rp, delta, cs, sn);
        uint8_t* base = kv.k_data(il);
        for (int32_t c : cells) {
            for (int64_t h = 0; h < hp.n_head_kv; ++h) {
                uint8_t* row = base + size_t(c) * kv.k_row_bytes() + size_t(h) * head_bytes;
                if (type == DType::F32 && !had) {  // turn in place
                    rotate(reinterpret_cast<float*>(row), rp, cs.data(), sn.data());
                    continue;
                }
                quant::dequantize_row(type, row, x.data(), hd);
                if (had) hadamard_inverse(x.data(), hd, KvCache::kHadamardSeedK);
                rotate(x.data(), rp, cs.data(), sn.data());
                if (had) hadamard_forward(x.data(), hd, KvCache::kHadamardSeedK);
                quant::quantize_row(type, x.data(), row, hd);
            }
        }
    }
}

}  // namespace hearth
