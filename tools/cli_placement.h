// Placement options shared by the model commands (fit now; run/serve/bench when they offload):
// -ngl, --device, -ot, --no-kv-offload, --vram-budget, -ctk/-ctv. One parser so every command spells
// and checks them the same way (bad values throw Error(InvalidArgument) -> exit 2).
#pragma once

#include <string>
#include <vector>

#include "backend/placement/placement.h"
#include "cli_parse.h"
#include "core/error.h"

namespace hearth::cli {

struct PlacementArgs {
    placement::FitParams params;             // n_gpu_layers, vram_budget, kv_offload, overrides, KV types
    std::vector<placement::DeviceId> devices;  // --device list (empty: none given or "none")
    bool device_set = false;
};

// If a[i] is a placement option, consumes it (and its value, advancing i) and returns true.
inline bool parse_placement_arg(const std::vector<std::string>& a, size_t& i, PlacementArgs& r) {
    const std::string& o = a[i];
    auto need = [&]() -> const std::string& {
        if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
        return a[++i];
    };
    if (o == "-ngl" || o == "--n-gpu-layers" || o == "--gpu-layers") r.params.n_gpu_layers = parse_int(o, need());
    else if (o == "--device" || o == "-dev") r.devices = placement::parse_device_list(need()), r.device_set = true;
    else if (o == "-ot" || o == "--override-tensor") {
        for (placement::TensorOverride& t : placement::parse_overrides(need())) r.params.overrides.push_back(std::move(t));
    } else if (o == "--no-kv-offload" || o == "-nkvo") r.params.kv_offload = false;
    else if (o == "--vram-budget") r.params.vram_budget = placement::parse_size(need());
    else if (o == "-ctk" || o == "--cache-type-k") r.params.type_k = placement::parse_kv_type(need());
    else if (o == "-ctv" || o == "--cache-type-v") r.params.type_v = placement::parse_kv_type(need());
    else return false;
    return true;
}

}  // namespace hearth::cli
