// KV cache options shared by the model commands (run, serve, perplexity, bench; fit reuses the
// -fa parser): -ctk/--cache-type-k, -ctv/--cache-type-v, -khad/--k-hadamard, -vhad/--v-hadamard,
// -fa/--flash-attn on|off|auto. One parser so every command spells and checks them the same way.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "backend/placement/placement.h"
#include "core/error.h"
#include "model/hparams.h"
#include "model/model.h"
#include "runtime/runtime_context.h"

namespace hearth::cli {

struct KvArgs {
    DType type_k = DType::F16;
    DType type_v = DType::F16;
    bool hadamard_k = false;
    bool hadamard_v = false;
    FlashAttn flash_attn = FlashAttn::Auto;

    void apply(ContextParams& cp) const {
        cp.kv_type_k = type_k;
        cp.kv_type_v = type_v;
        cp.kv_hadamard_k = hadamard_k;
        cp.kv_hadamard_v = hadamard_v;
        cp.flash_attn = flash_attn;
    }
};

inline FlashAttn parse_flash_attn(const std::string& opt, const std::string& v) {
    if (v == "on" || v == "1" || v == "true") return FlashAttn::On;
    if (v == "off" || v == "0" || v == "false") return FlashAttn::Off;
    if (v == "auto") return FlashAttn::Auto;
    throw Error(ErrorKind::InvalidArgument, "option " + opt + " expects on, off or auto, got '" + v + "'");
}

// Usage lines for a command's help text.
inline const char* kv_usage() {
    return "  -ctk, --cache-type-k T   K cache type: f32 f16 bf16 q8_0 q5_0 q5_1 q4_0 q4_1 iq4_nl (default f16)\n"
           "  -ctv, --cache-type-v T   V cache type, same choices (quantized V needs flash attention)\n"
           "  -khad, --k-hadamard      rotate K (and Q) per head by a Walsh-Hadamard transform before caching\n"
           "  -vhad, --v-hadamard      rotate V per head before caching (output rotated back)\n"
           "  -fa, --flash-attn M      on | off | auto (default auto = on)\n";
}

// If a[i] is a KV option, consumes it (and its value, advancing i) and returns true.
inline bool parse_kv_arg(const std::vector<std::string>& a, size_t& i, KvArgs& r) {
    const std::string& o = a[i];
    auto need = [&]() -> const std::string& {
        if (i + 1 >= a.size()) throw Error(ErrorKind::InvalidArgument, "option " + o + " needs a value");
        return a[++i];
    };
    if (o == "-ctk" || o == "--cache-type-k") r.type_k = placement::parse_kv_type(need());
    else if (o == "-ctv" || o == "--cache-type-v") r.type_v = placement::parse_kv_type(need());
    else if (o == "-khad" || o == "--k-hadamard") r.hadamard_k = true;
    else if (o == "-vhad" || o == "--v-hadamard") r.hadamard_v = true;
    else if (o == "-fa" || o == "--flash-attn") r.flash_attn = parse_flash_attn(o, need());
    else return false;
    return true;
}

// The load-log line of a context's KV configuration, with its exact bytes per token and layer:
// "KV cache: K q4_0+had, V f16, fa on: 36 + 128 B per token per layer, 656 B per token (4 layers)".
inline std::string kv_load_line(const runtime::Context& ctx) {
    const HParams& hp = ctx.model().hparams();
    const ContextParams& p = ctx.params();
    const size_t k = dtype_row_bytes(p.kv_type_k, hp.n_embd_k_gqa()), v = dtype_row_bytes(p.kv_type_v, hp.n_embd_v_gqa());
    char buf[160];
    std::snprintf(buf, sizeof buf, ": %zu + %zu B per token per layer, %zu B per token (%lld layers)", k, v,
                  (k + v) * size_t(hp.n_layer), (long long)hp.n_layer);
    return "KV cache: " + describe_kv(p) + buf;
}

}  // namespace hearth::cli
