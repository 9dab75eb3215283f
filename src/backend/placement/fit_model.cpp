// The memory facts of a model the fit planner needs, read from the GGUF header only (tensor table and
// hyper-parameters; no tensor data is touched): bytes per tensor grouped by layer, exact KV bytes per
// token from the KV types' block layouts, and an upper bound of the compute arena.
#include <algorithm>
#include <charconv>

#include "backend/placement/placement.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/hparams.h"

namespace hearth::placement {

int64_t layer_of_tensor(std::string_view name) {
    if (name.substr(0, 4) != "blk.") return -1;
    const std::string_view rest = name.substr(4);
    const size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string_view::npos) return -1;
    int64_t il = -1;
    const auto r = std::from_chars(rest.data(), rest.data() + dot, il);
    if (r.ec != std::errc() || r.ptr != rest.data() + dot || il < 0) return -1;
    return il;
}

ModelSummary read_model_summary(const gguf::File& file) {
    const std::optional<std::string> arch = file.get_string("general.architecture");
    if (!arch) throw Error(ErrorKind::InvalidFile, "general.architecture is missing: not a model file");
    const ArchSpec& spec = find_arch(*arch);
    const HParams hp = read_hparams(file, spec);

    ModelSummary m;
    m.arch = *arch;
    m.n_layer = hp.n_layer;
    m.n_embd = hp.n_embd;
    m.n_vocab = hp.n_vocab;
    m.n_ctx_train = hp.n_ctx_train;
    m.n_ff = hp.n_ff;
    m.n_head = hp.n_head;
    m.n_embd_q = hp.n_embd_q();
    m.head_dim_v = hp.head_dim_v;
    m.n_embd_k_gqa.assign(size_t(hp.n_layer), hp.n_embd_k_gqa());
    m.n_embd_v_gqa.assign(size_t(hp.n_layer), hp.n_embd_v_gqa());

    bool has_output = false;
    uint64_t token_embd_bytes = 0;
    for (const gguf::TensorInfo& t : file.tensors()) {
        TensorEntry e;
        e.name = t.name;
        e.bytes = t.nbytes;
        e.layer = layer_of_tensor(t.name);
        if (e.layer >= 0) {
            if (e.layer >= hp.n_layer)
                throw Error(ErrorKind::InvalidFile, "tensor '" + t.name + "' names layer " + std::to_string(e.layer) +
                                                        " but the model has " + std::to_string(hp.n_layer) + " layers");
            e.role = TensorRole::Layer;
        } else if (t.name == "output.weight" || t.name == "output_norm.weight" || t.name == "output_norm.bias" ||
                   t.name == "output.bias") {
            e.role = TensorRole::Output;
        }
        if (t.name == "output.weight") has_output = true, m.output_matrix_bytes = t.nbytes;
        if (t.name == "token_embd.weight") token_embd_bytes = t.nbytes;
        m.tensors.push_back(std::move(e));
    }
    if (!has_output) {
        m.tied_output = true;
        m.output_matrix_bytes = token_embd_bytes;
    }
    return m;
}

uint64_t kv_bytes_per_token(const ModelSummary& m, int64_t il, DType type_k, DType type_v) {
    HEARTH_ASSERT(il >= 0 && il < m.n_layer);
    auto row = [](DType t, int64_t n, const char* which) -> uint64_t {
        const DTypeTraits& tr = dtype_traits(t);
        if (n % int64_t(tr.block_elems) != 0)
            throw Error(ErrorKind::InvalidArgument,
                        std::string("KV cache type ") + tr.name + " stores blocks of " + std::to_string(tr.block_elems) +
                            " values, but a " + which + " row has " + std::to_string(n) + " (n_head_kv * head_dim)");
        return uint64_t(n / tr.block_elems) * tr.block_bytes;
    };
    return row(type_k, m.n_embd_k_gqa[size_t(il)], "K") + row(type_v, m.n_embd_v_gqa[size_t(il)], "V");
}

uint64_t estimate_compute_bytes(const ModelSummary& m, int64_t n_ctx, int64_t n_ubatch, int n_seq,
                                bool with_output, bool flash_attn) {
    const uint64_t tokens = uint64_t(std::max<int64_t>(1, std::min(n_ubatch, n_ctx)));
    const uint64_t kv_max = uint64_t(*std::max_element(m.n_embd_k_gqa.begin(), m.n_embd_k_gqa.end()));
    // Per token, F32: residual + normed input (2 n_embd), Q (n_embd_q), K and V (2 kv rows), attention
    // output (n_embd_q), FFN gate, up and their product (3 n_ff).
    const uint64_t per_token =
        4 * (2 * uint64_t(m.n_embd) + 2 * uint64_t(m.n_embd_q) + 2 * kv_max + 3 * uint64_t(m.n_ff));
    // Attention: scores and probabilities [n_ctx, tokens, n_head] without flash attention; with it only
    // a per-token accumulator of n_head * head_dim_v.
    const uint64_t attn = flash_attn ? tokens * uint64_t(m.n_head * m.head_dim_v) * 4
                                     : 2 * tokens * uint64_t(m.n_head) * uint64_t(n_ctx) * 4;
    // Logits: one row per output token (a prompt ubatch may ask for all of them), at least one per sequence.
    const uint64_t logits = with_output ? std::max<uint64_t>(tokens, uint64_t(n_seq)) * uint64_t(m.n_vocab) * 4 : 0;
    const uint64_t total = tokens * per_token + attn + logits;
    constexpr uint64_t kMiB = 1ull << 20;
    return (total + kMiB - 1) / kMiB * kMiB;  // arenas are allocated in whole MiB
}

}  // namespace hearth::placement
