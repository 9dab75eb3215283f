// Where a model's tensors live: parsing of the placement options (-ngl, --device, -ot, --no-kv-offload,
// --vram-budget), the per-layer memory facts of a GGUF model, and the fit planner that turns them into
// a per-tensor device assignment with a per-device memory breakdown. Pure C++: no CUDA needed.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "quant/dtype.h"

namespace hearth {
namespace gguf {
class File;
}

namespace placement {

// ---- options -------------------------------------------------------------------------------------

// A device name as the user writes it: "cpu" or "cudaN".
struct DeviceId {
    enum class Kind { Cpu, Cuda };
    Kind kind = Kind::Cpu;
    int index = 0;  // cudaN: N
    std::string name() const;  // "cpu", "cuda0", ...
    bool operator==(const DeviceId&) const = default;
};

// "11.5GiB", "800MiB", "12G", "4096" (bytes). K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024,
// KB/MB/GB/TB powers of 1000; units are case-insensitive. Throws Error(InvalidArgument) for garbage,
// negative values, fractional byte counts and values beyond 2^63.
uint64_t parse_size(std::string_view text);
// "312.0 MiB" style (B below 1 KiB, else the largest binary unit >= 1).
std::string format_size(uint64_t bytes);

DeviceId parse_device(std::string_view text);  // "cpu", "cuda0"; throws InvalidArgument otherwise
// "--device" value: "none" (empty list = CPU only), or a comma list of devices ("cuda0,cpu").
std::vector<DeviceId> parse_device_list(std::string_view text);

// One -ot rule: tensors whose name matches `pattern` (std::regex, ECMAScript, searched anywhere in the
// name) go to `device`. The device may be written in any case ("CPU", "CUDA0").
struct TensorOverride {
    std::string pattern_text;
    std::regex pattern;
    DeviceId device;
};
// "REGEX=DEVICE"; several rules may be joined with ','. Throws InvalidArgument for a missing '=',
// an empty regex, a regex that does not compile, or an unknown device.
std::vector<TensorOverride> parse_overrides(std::string_view text);

// KV cache element types llama.cpp accepts for -ctk/-ctv (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0,
// q5_1, iq4_nl). Throws InvalidArgument naming the accepted ones.
DType parse_kv_type(std::string_view text);

// ---- model facts -------------------------------------------------------------------------------

// Which part of the model a tensor belongs to. Input: token embeddings and other non-layer tensors
// (always on the host, like llama.cpp: the embedding lookup is a get_rows); Output: output norm and
// output matrix; Layer: a "blk.N." tensor.
enum class TensorRole { Input, Layer, Output };

struct TensorEntry {
    std::string name;
    uint64_t bytes = 0;
    TensorRole role = TensorRole::Input;
    int64_t layer = -1;  // blk index for Layer tensors
};

// What the planner needs from a model file; read_model_summary() fills it from the GGUF header
// without touching tensor data.
struct ModelSummary {
    std::string arch;
    int64_t n_layer = 0, n_embd = 0, n_vocab = 0, n_ff = 0, n_head = 0;
    int64_t n_ctx_train = 0;             // the default context size (as `hearth run` uses)
    int64_t n_embd_q = 0;                // n_head * head_dim_k
    int64_t head_dim_v = 0;
    std::vector<int64_t> n_embd_k_gqa;   // [n_layer] K row length per layer (n_head_kv * head_dim_k)
    std::vector<int64_t> n_embd_v_gqa;   // [n_layer] V row length per layer
    std::vector<TensorEntry> tensors;
    bool tied_output = false;            // no output.weight: the output matrix is token_embd
    uint64_t output_matrix_bytes = 0;    // output.weight (or token_embd when tied)
};
// Throws Error(InvalidFile/Unsupported) like the model loader for a malformed or unknown model.
ModelSummary read_model_summary(const gguf::File& file);
// Layer index of a tensor name "blk.N.<rest>", else -1.
int64_t layer_of_tensor(std::string_view name);

// Exact KV bytes per cached token of layer il: row_bytes(type_k, n_embd_k_gqa) +
// row_bytes(type_v, n_embd_v_gqa). Throws InvalidArgument when a row is not a whole number of blocks.
uint64_t kv_bytes_per_token(const ModelSummary& m, int64_t il, DType type_k, DType type_v);

// Upper bound of one forward pass's live intermediates (the compute arena) for n_ubatch tokens
// against n_ctx cached ones. Counts F32 activations: residual stream + norm output, Q/K/V, the FFN
// gate/up/product, attention scores and probabilities (n_head x n_ctx per token unless flash
// attention), and the logits when the output layer computes here.
uint64_t estimate_compute_bytes(const ModelSummary& m, int64_t n_ctx, int64_t n_ubatch, int n_seq,
                                bool with_output, bool flash_attn);

// ---- the plan ----------------------------------------------------------------------------------

// A device the planner may offload to: its name and memory (real, or simulated by tests and
// `hearth fit --device-free`).
struct DeviceInfo {
    DeviceId id;
    std::string description;  // e.g. "NVIDIA H100 80GB HBM3" or "simulated"
    uint64_t total_bytes = 0;
    uint64_t free_bytes = 0;
};

// Memory the CUDA runtime context, cuBLAS handle and workspace take on a device before any buffer
// of ours (measured order of magnitude on recent drivers; override with FitParams::context_reserve).
constexpr uint64_t kCudaContextReserve = 256ull << 20;

struct FitParams {
    int64_t n_ctx = 4096;
    int64_t n_ubatch = 512;
    int n_seq = 1;
    DType type_k = DType::F16, type_v = DType::F16;
    bool flash_attn = true;
    std::optional<int64_t> n_gpu_layers;    // -ngl; unset with a device + no budget: as many as fit
    std::optional<uint64_t> vram_budget;    // --vram-budget: everything on the device stays under it
    bool kv_offload = true;                 // false: --no-kv-offload (KV cache stays on the host)
    std::vector<TensorOverride> overrides;  // -ot, first match wins
    uint64_t context_reserve = kCudaContextReserve;
    std::optional<uint64_t> compute_bytes;  // override the compute estimate (tests)
};

struct DeviceUsage {
    std::string device;  // "cpu", "cuda0"
    uint64_t weights = 0, kv_cache = 0, compute = 0, reserve = 0;
    uint64_t total() const { return weights + kv_cache + compute + reserve; }
    uint64_t free = 0;   // the device's free memory before loading (0 when unknown: the host)
};

struct Plan {
    int64_t n_layer = 0;
    int64_t n_gpu_layers = 0;         // repeating layers offloaded (the last ones)
    bool output_offloaded = false;    // output norm + matrix on the device (ngl > n_layer)
    std::vector<std::string> tensor_device;  // parallel to ModelSummary::tensors
    std::vector<std::string> layer_device;   // [n_layer] where layer il's KV cache lives
    std::vector<DeviceUsage> devices;        // host first, then the accelerator (if any is used)
    std::optional<uint64_t> budget;          // the budget the plan was fit under
    bool fits = true;                        // every accelerator's total <= its free (and budget)
    std::string note;                        // why the plan stopped where it did (for printing)
};

// Plans placement of `m` onto the host plus `device` (nullptr: host only; then -ngl > 0, a budget or
// a CUDA override is an InvalidArgument error). With vram_budget: the largest -ngl whose device total
// (weights + KV + compute + context reserve) stays <= budget; a budget below the fixed part throws
// Error(OutOfMemory) saying what that part needs. Without a budget or -ngl: the budget is the
// device's free memory.
Plan plan_placement(const ModelSummary& m, const FitParams& p, const DeviceInfo* device);

}  // namespace placement
}  // namespace hearth
