// `hearth fit -m FILE [-c N] [-np N] [-ctk T] [-ctv T] [-ngl N] [--device D] [-ot R=D] [--no-kv-offload]
// [--vram-budget SIZE] [--device-free SIZE] [--json]`: prints where each layer would live and the
// per-device memory breakdown, reading only the GGUF header (no weights are loaded).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/placement/devices.h"
#include "backend/placement/placement.h"
#include "cli_kv.h"
#include "cli_parse.h"
#include "cli_placement.h"
#include "command.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::cli {
namespace {

using namespace hearth::placement;

void usage() {
    std::fprintf(stderr,
                 "usage: hearth fit -m FILE [-c N] [-np N] [-ub N] [-ctk TYPE] [-ctv TYPE] [-fa on|off|auto]\n"
                 "                  [-ngl N] [--device none|cpu|cudaN] [-ot REGEX=DEVICE] [--no-kv-offload]\n"
                 "                  [--vram-budget SIZE] [--device-free SIZE] [--json]\n"
                 "  -c N               context size (default: the model's trained length)\n"
                 "  -ngl N             offload the last N layers (N > layers: the output layer too)\n"
                 "  --vram-budget SIZE the most the device may hold (weights + KV + compute + context)\n"
                 "  --device-free SIZE simulate a CUDA device with SIZE free (no GPU needed)\n"
                 "  sizes: 11.5GiB, 800MiB, 12G, 4096 (bytes)\n");
}

struct FitArgs {
    std::string model;
    PlacementArgs place;
    bool json = false, ctx_set = false;
    std::optional<uint64_t> device_free;
};

int parse(const std::vector<std::string>& a, FitArgs& r) {
    auto need = [&](size_t& i) -> const std::string& {
        if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + a[i] + " needs a value");
        return a[++i];
    };
    for (size_t i = 0; i < a.size(); ++i) {
        const std::string& o = a[i];
        if (o == "-h" || o == "--help") {
            usage();
            return -1;
        } else if (parse_placement_arg(a, i, r.place)) {
        } else if (o == "-m" || o == "--model") r.model = need(i);
        else if (o == "-c" || o == "--ctx-size") r.place.params.n_ctx = parse_int(o, need(i)), r.ctx_set = true;
        else if (o == "-np" || o == "--parallel") r.place.params.n_seq = int(parse_int(o, need(i)));
        else if (o == "-ub" || o == "--ubatch-size") r.place.params.n_ubatch = parse_int(o, need(i));
        else if (o == "--device-free") r.device_free = parse_size(need(i));
        else if (o == "-fa" || o == "--flash-attn") {
            // auto = on: the CPU flash-attention path supports every KV configuration.
            r.place.params.flash_attn = parse_flash_attn(o, need(i)) != FlashAttn::Off;
        } else if (o == "--json") r.json = true;
        else {
            std::fprintf(stderr, "hearth fit: unknown option '%s'\n", o.c_str());
            usage();
            return 1;
        }
    }
    if (r.model.empty()) {
        std::fprintf(stderr, "hearth fit: -m FILE is required\n");
        usage();
        return 1;
    }
    const DType tv = r.place.params.type_v;
    if (!r.place.params.flash_attn && tv != DType::F32 && tv != DType::F16 && tv != DType::BF16)
        throw Error(ErrorKind::InvalidArgument, std::string("a quantized V cache (-ctv ") + dtype_name(tv) +
                                                    ") requires flash attention; use -fa on (or auto), or -ctv f16");
    return 0;
}

// The accelerator to plan for: simulated (--device-free), named (--device), or none.
std::optional<DeviceInfo> choose_device(const FitArgs& r) {
    const bool wants_gpu = r.place.params.n_gpu_layers.value_or(0) > 0 || r.place.params.vram_budget || r.device_free;
    std::vector<DeviceId> devices = r.place.devices;
    if (!r.place.device_set && wants_gpu) devices = {DeviceId{DeviceId::Kind::Cuda, 0}};
    if (r.device_free) {
        DeviceId id{DeviceId::Kind::Cuda, 0};
        bool named = false;
        for (const DeviceId& d : devices)
            if (d.kind == DeviceId::Kind::Cuda) id = d, named = true;
        if (r.place.device_set && !named)
            throw Error(ErrorKind::InvalidArgument, "--device-free simulates a CUDA device, but --device names none");
        return DeviceInfo{id, "simulated", *r.device_free, *r.device_free};
    }
    return resolve_accelerator(devices);
}

void print_text(const ModelSummary& m, const Plan& plan, const FitArgs& r) {
    std::printf("model: %s (%s), %lld layers, n_ctx %lld, %d sequence(s), KV %s/%s%s\n", r.model.c_str(),
                m.arch.c_str(), static_cast<long long>(m.n_layer), static_cast<long long>(r.place.params.n_ctx),
                r.place.params.n_seq, dtype_name(r.place.params.type_k), dtype_name(r.place.params.type_v),
                r.place.params.kv_offload ? "" : " (not offloaded)");
    if (plan.devices.size() > 1) {
        std::printf("offload: %lld/%lld layers%s to %s", static_cast<long long>(plan.n_gpu_layers),
                    static_cast<long long>(plan.n_layer), plan.output_offloaded ? " + output" : "",
                    plan.devices.back().device.c_str());
        if (plan.budget) std::printf(" (budget %s)", format_size(*plan.budget).c_str());
        std::printf("  => -ngl %lld\n", static_cast<long long>(plan.n_gpu_layers + (plan.output_offloaded ? 1 : 0)));
    } else {
        std::printf("offload: none (CPU only)\n");
    }
    std::printf("%-8s %12s %12s %12s %12s %12s %12s\n", "device", "weights", "KV cache", "compute", "reserve",
                "total", "free");
    for (const DeviceUsage& d : plan.devices)
        std::printf("%-8s %12s %12s %12s %12s %12s %12s\n", d.device.c_str(), format_size(d.weights).c_str(),
                    format_size(d.kv_cache).c_str(), format_size(d.compute).c_str(), format_size(d.reserve).c_str(),
                    format_size(d.total()).c_str(), d.free ? format_size(d.free).c_str() : "-");
    if (!plan.note.empty()) std::printf("note: %s\n", plan.note.c_str());
}

nlohmann::json to_json(const ModelSummary& m, const Plan& plan, const FitArgs& r) {
    using nlohmann::json;
    json j;
    j["model"] = r.model;
    j["arch"] = m.arch;
    j["n_layer"] = plan.n_layer;
    j["n_ctx"] = r.place.params.n_ctx;
    j["n_seq"] = r.place.params.n_seq;
    j["type_k"] = dtype_name(r.place.params.type_k);
    j["type_v"] = dtype_name(r.place.params.type_v);
    j["n_gpu_layers"] = plan.n_gpu_layers;
    j["output_offloaded"] = plan.output_offloaded;
    j["budget"] = plan.budget ? json(*plan.budget) : json(nullptr);
    j["fits"] = plan.fits;
    j["note"] = plan.note;
    json devs = json::array();
    for (const DeviceUsage& d : plan.devices)
        devs.push_back({{"device", d.device}, {"weights", d.weights}, {"kv_cache", d.kv_cache}, {"compute", d.compute},
                        {"reserve", d.reserve}, {"total", d.total()}, {"free", d.free}});
    j["devices"] = devs;
    json layers = json::array();
    for (int64_t il = 0; il < plan.n_layer; ++il) layers.push_back(plan.layer_device[size_t(il)]);
    j["kv_device"] = layers;
    json tensors = json::array();
    for (size_t i = 0; i < m.tensors.size(); ++i)
        tensors.push_back({{"name", m.tensors[i].name}, {"bytes", m.tensors[i].bytes}, {"device", plan.tensor_device[i]}});
    j["tensors"] = tensors;
    return j;
}

int run_fit(const std::vector<std::string>& args) {
    FitArgs r;
    try {
        const int rc = parse(args, r);
        if (rc != 0) return rc < 0 ? 0 : rc;
        const std::unique_ptr<gguf::File> file = gguf::File::open(r.model);
        const ModelSummary m = read_model_summary(*file);
        if (!r.ctx_set) r.place.params.n_ctx = m.n_ctx_train;  // like `hearth run`: the trained context
        const std::optional<DeviceInfo> device = choose_device(r);
        const Plan plan = plan_placement(m, r.place.params, device ? &*device : nullptr);
        if (r.json) std::printf("%s\n", to_json(m, plan, r).dump(2).c_str());
        else print_text(m, plan, r);
        if (!plan.fits) {
            std::fprintf(stderr, "hearth fit: the plan does not fit: %s\n", plan.note.c_str());
            return 2;
        }
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "hearth fit: %s\n", e.what());
        return 2;
    }
}

const CommandRegistration kRegistration("fit", "plan device placement and memory for a model (no weights loaded)",
                                        run_fit);

}  // namespace
}  // namespace hearth::cli
