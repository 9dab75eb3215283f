// The fit planner: assigns every tensor and every layer's KV cache to the host or the accelerator
// following llama.cpp's -ngl semantics (the last N repeating layers, plus the output layer when
// N > n_layer), -ot overrides and --no-kv-offload, and under a --vram-budget picks the largest -ngl
// whose device total (weights + KV + compute + context reserve) stays within the budget.
#include <algorithm>

#include "backend/placement/placement.h"
#include "core/error.h"

namespace hearth::placement {
namespace {

struct Inputs {
    const ModelSummary& m;
    const FitParams& p;
    const DeviceInfo* device;
    std::vector<uint64_t> kv_layer_bytes;            // [n_layer] n_ctx * kv_bytes_per_token
    std::vector<std::optional<DeviceId>> overrides;  // [tensors] first matching -ot rule
};

// The device total that does not depend on -ngl: context reserve, compute arena (without the logits
// rows, which only count when the output layer is offloaded) and weights an -ot rule pins there.
uint64_t fixed_device_bytes(const Inputs& in) {
    uint64_t pinned = 0;
    for (size_t i = 0; i < in.m.tensors.size(); ++i)
        if (in.overrides[i] && in.overrides[i]->kind == DeviceId::Kind::Cuda) pinned += in.m.tensors[i].bytes;
    const uint64_t compute = in.p.compute_bytes ? *in.p.compute_bytes
                                                : estimate_compute_bytes(in.m, in.p.n_ctx, in.p.n_ubatch, in.p.n_seq,
                                                                         false, in.p.flash_attn);
    return in.p.context_reserve + compute + pinned;
}

// The placement for one -ngl value (already clamped to [0, n_layer + 1]).
Plan evaluate(const Inputs& in, int64_t ngl) {
    const ModelSummary& m = in.m;
    const std::string host = "cpu";
    const std::string dev = in.device ? in.device->id.name() : std::string();
    Plan plan;
    plan.n_layer = m.n_layer;
    plan.n_gpu_layers = in.device ? std::min(ngl, m.n_layer) : 0;
    plan.output_offloaded = in.device && ngl > m.n_layer;
    const int64_t first_offloaded = m.n_layer - plan.n_gpu_layers;

    DeviceUsage cpu{host};
    DeviceUsage gpu{dev};
    bool gpu_used = false;
    plan.tensor_device.resize(m.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); ++i) {
        const TensorEntry& t = m.tensors[i];
        bool on_gpu = false;
        if (in.overrides[i]) on_gpu = in.overrides[i]->kind == DeviceId::Kind::Cuda;
        else if (t.role == TensorRole::Layer) on_gpu = t.layer >= first_offloaded;
        else if (t.role == TensorRole::Output) on_gpu = plan.output_offloaded;
        plan.tensor_device[i] = on_gpu ? dev : host;
        (on_gpu ? gpu : cpu).weights += t.bytes;
        gpu_used = gpu_used || on_gpu;
    }
    // Tied embeddings: the output matrix is token_embd, which stays on the host for the embedding
    // lookup; an offloaded output layer holds a second copy on the device (as llama.cpp does).
    if (m.tied_output && plan.output_offloaded) gpu.weights += m.output_matrix_bytes, gpu_used = true;

    plan.layer_device.resize(size_t(m.n_layer));
    for (int64_t il = 0; il < m.n_layer; ++il) {
        const bool kv_gpu = in.device && in.p.kv_offload && il >= first_offloaded;
        plan.layer_device[size_t(il)] = kv_gpu ? dev : host;
        (kv_gpu ? gpu : cpu).kv_cache += in.kv_layer_bytes[size_t(il)];
    }

    const FitParams& p = in.p;
    cpu.compute = estimate_compute_bytes(m, p.n_ctx, p.n_ubatch, p.n_seq, !plan.output_offloaded, p.flash_attn);
    if (gpu_used) {
        gpu.compute = p.compute_bytes ? *p.compute_bytes
                                      : estimate_compute_bytes(m, p.n_ctx, p.n_ubatch, p.n_seq, plan.output_offloaded,
                                                               p.flash_attn);
        gpu.reserve = p.context_reserve;
    }
    plan.devices.push_back(cpu);
    if (in.device) {
        gpu.free = in.device->free_bytes;
        plan.fits = gpu.total() <= gpu.free;
        plan.devices.push_back(gpu);
    }
    return plan;
}

}  // namespace

Plan plan_placement(const ModelSummary& m, const FitParams& p, const DeviceInfo* device) {
    if (p.n_ctx < 1) throw Error(ErrorKind::InvalidArgument, "context size must be >= 1, got " + std::to_string(p.n_ctx));
    if (p.n_ubatch < 1) throw Error(ErrorKind::InvalidArgument, "ubatch size must be >= 1");
    if (p.n_seq < 1) throw Error(ErrorKind::InvalidArgument, "-np must be >= 1, got " + std::to_string(p.n_seq));
    if (p.n_gpu_layers && *p.n_gpu_layers < 0)
        throw Error(ErrorKind::InvalidArgument, "-ngl must be >= 0, got " + std::to_string(*p.n_gpu_layers));
    if (m.n_layer < 1) throw Error(ErrorKind::InvalidFile, "the model has no layers");
    if (device && device->id.kind != DeviceId::Kind::Cuda)
        throw Error(ErrorKind::InvalidArgument, "the offload device must be an accelerator, got '" + device->id.name() + "'");

    Inputs in{m, p, device, {}, {}};
    for (int64_t il = 0; il < m.n_layer; ++il)
        in.kv_layer_bytes.push_back(uint64_t(p.n_ctx) * kv_bytes_per_token(m, il, p.type_k, p.type_v));
    for (const TensorEntry& t : m.tensors) {
        std::optional<DeviceId> hit;
        for (const TensorOverride& o : p.overrides)
            if (std::regex_search(t.name, o.pattern)) {
                hit = o.device;
                break;
            }
        if (hit && hit->kind == DeviceId::Kind::Cuda && !(device && device->id == *hit))
            throw Error(ErrorKind::InvalidArgument, "tensor override sends '" + t.name + "' to " + hit->name() +
                                                        ", which is not the device in use (" +
                                                        (device ? device->id.name() : std::string("none")) + ")");
        in.overrides.push_back(hit);
    }

    if (!device) {
        if (p.n_gpu_layers.value_or(0) > 0)
            throw Error(ErrorKind::InvalidArgument,
                        "-ngl " + std::to_string(*p.n_gpu_layers) + " needs an accelerator (--device cuda0); this run is CPU-only");
        if (p.vram_budget) throw Error(ErrorKind::InvalidArgument, "--vram-budget needs an accelerator (--device cuda0)");
        return evaluate(in, 0);
    }

    const int64_t max_ngl = m.n_layer + 1;
    if (p.n_gpu_layers && !p.vram_budget) {
        Plan plan = evaluate(in, std::min(*p.n_gpu_layers, max_ngl));
        if (!plan.fits)
            plan.note = "needs " + format_size(plan.devices.back().total()) + " on " + device->id.name() + " but only " +
                        format_size(device->free_bytes) + " is free";
        return plan;
    }

    // Budget mode (explicit, or the device's free memory): the largest -ngl (capped by an explicit
    // -ngl) whose device total stays within the limit. The total never decreases as -ngl grows.
    const uint64_t limit = p.vram_budget ? *p.vram_budget : device->free_bytes;
    const std::string what = p.vram_budget ? "the budget " : "the free memory of " + device->id.name() + ", ";
    const uint64_t fixed = fixed_device_bytes(in);
    if (fixed > limit)
        throw Error(ErrorKind::OutOfMemory, what + format_size(limit) + " is below the " + format_size(fixed) +
                                                " the CUDA context (" + format_size(p.context_reserve) +
                                                ") and compute buffers need");
    const int64_t cap = p.n_gpu_layers ? std::min(*p.n_gpu_layers, max_ngl) : max_ngl;
    Plan best = evaluate(in, 0);
    for (int64_t ngl = 1; ngl <= cap; ++ngl) {
        Plan candidate = evaluate(in, ngl);
        if (candidate.devices.back().total() > limit) {
            const std::string part = ngl > m.n_layer ? std::string("the output layer")
                                                     : "layer " + std::to_string(m.n_layer - ngl);
            best.note = part + " does not fit: " + format_size(candidate.devices.back().total()) + " > " +
                        format_size(limit);
            break;
        }
        best = std::move(candidate);
    }
    // A budget may be larger than what the device has free right now.
    best.fits = best.devices.back().total() <= device->free_bytes;
    if (!best.fits)
        best.note = "the plan needs " + format_size(best.devices.back().total()) + " but " + device->id.name() +
                    " has only " + format_size(device->free_bytes) + " free";
    best.budget = limit;
    return best;
}

}  // namespace hearth::placement
