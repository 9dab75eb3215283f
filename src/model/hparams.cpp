// Reads the "<arch>.*" hyper-parameters from GGUF metadata and range-checks them, so that a bad
// file fails at load with the offending key named instead of misbehaving at decode time.
#include "model/hparams.h"

#include <cmath>
#include <optional>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"

namespace hearth {

namespace {

// Limits far above any real model, low enough that products of them cannot overflow int64.
constexpr int64_t kMaxDim = int64_t(1) << 24;

[[noreturn]] void bad_key(const std::string& key, const std::string& what) {
    throw Error(ErrorKind::InvalidFile, "hyper-parameter '" + key + "' " + what);
}

// An integer key; an array (per-layer values) is rejected as Unsupported.
std::optional<int64_t> get_int_key(const gguf::File& f, const std::string& key) {
    const gguf::Value* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->type == gguf::ValueType::Array)
        throw Error(ErrorKind::Unsupported, "hyper-parameter '" + key + "' is a per-layer array; hearth supports a single value");
    return f.get_int(key);
}

int64_t require_dim(const gguf::File& f, const std::string& key, int64_t lo = 1) {
    auto v = get_int_key(f, key);
    if (!v) bad_key(key, "is missing");
    if (*v < lo || *v > kMaxDim) bad_key(key, "= " + std::to_string(*v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(kMaxDim) + "]");
    return *v;
}

int64_t optional_dim(const gguf::File& f, const std::string& key, int64_t fallback, int64_t lo = 1) {
    if (!f.find(key)) return fallback;
    return require_dim(f, key, lo);
}

float optional_float(const gguf::File& f, const std::string& key, float fallback, float lo, float hi) {
    auto v = f.get_float(key);
    if (!v) return fallback;
    if (!std::isfinite(*v) || *v < lo || *v > hi)
        bad_key(key, "= " + std::to_string(*v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return float(*v);
}

}  // namespace

HParams read_hparams(const gguf::File& f, const ArchSpec& spec) {
    HParams hp;
    hp.arch = spec.name;
    const std::string a = std::string(spec.name) + ".";

    hp.n_ctx_train = require_dim(f, a + "context_length");
    hp.n_embd = require_dim(f, a + "embedding_length");
    hp.n_layer = require_dim(f, a + "block_count");
    hp.n_ff = require_dim(f, a + "feed_forward_length");
    hp.n_head = require_dim(f, a + "attention.head_count");
    hp.n_head_kv = optional_dim(f, a + "attention.head_count_kv", hp.n_head);
    if (hp.n_head % hp.n_head_kv != 0)
        bad_key(a + "attention.head_count_kv", "= " + std::to_string(hp.n_head_kv) + " does not divide " + a +
                                                   "attention.head_count = " + std::to_string(hp.n_head));
    if (!f.find(a + "attention.key_length") && hp.n_embd % hp.n_head != 0)
        bad_key(a + "attention.key_length", "is missing and embedding_length is not a multiple of head_count");
    hp.head_dim_k = optional_dim(f, a + "attention.key_length", hp.n_embd / hp.n_head);
    hp.head_dim_v = optional_dim(f, a + "attention.value_length", hp.head_dim_k);
    hp.n_rot = optional_dim(f, a + "rope.dimension_count", hp.head_dim_k);
    if (hp.n_rot > hp.head_dim_k || hp.n_rot % 2 != 0)
        bad_key(a + "rope.dimension_count", "= " + std::to_string(hp.n_rot) + " must be even and <= the head dimension " +
                                                std::to_string(hp.head_dim_k));
    hp.norm_eps = optional_float(f, a + "attention.layer_norm_rms_epsilon", 1e-5f, 0.0f, 1.0f);
    hp.rope_base = optional_float(f, a + "rope.freq_base", 10000.0f, 1e-3f, 1e12f);
    hp.rope_scale = 1.0f;
    if (auto type = f.get_string(a + "rope.scaling.type"); type && *type != "none") {
        if (*type != "linear")
            throw Error(ErrorKind::Unsupported, "hyper-parameter '" + a + "rope.scaling.type' = '" + *type +
                                                    "': only linear rope scaling is supported");
        hp.rope_scale = 1.0f / optional_float(f, a + "rope.scaling.factor", 1.0f, 1e-3f, 1e6f);
    }
    hp.rope_base_swa = spec.rope_base_swa;
    hp.attn_softcap = optional_float(f, a + "attn_logit_softcapping", 0.0f, 0.0f, 1e6f);
    hp.final_softcap = optional_float(f, a + "final_logit_softcapping", 0.0f, 0.0f, 1e6f);
    hp.query_scale = optional_float(f, a + "attention.scale", 0.0f, 0.0f, 1e6f);
    if (hp.query_scale == 0.0f) hp.query_scale = 1.0f / std::sqrt(float(hp.head_dim_k));
    hp.embd_scale = spec.embd_scale_sqrt ? std::sqrt(float(hp.n_embd)) : 1.0f;

    hp.swa_layer.assign(size_t(hp.n_layer), 0);
    if (spec.swa_period > 0) {
        hp.n_swa = require_dim(f, a + "attention.sliding_window");
        // Every swa_period-th layer (il % period == period-1) is global; the rest slide.
        for (int64_t il = 0; il < hp.n_layer; ++il) hp.swa_layer[size_t(il)] = (il + 1) % spec.swa_period != 0;
    }

    if (const auto* tokens = f.get_string_array("tokenizer.ggml.tokens")) hp.n_vocab = int64_t(tokens->size());
    return hp;
}

}  // namespace hearth
