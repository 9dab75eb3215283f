// Writes random-weight GGUF models of any architecture in the table (see synthetic.h): metadata
// "<arch>.*" keys from the spec, tokenizer keys copied from a vocab file, Gaussian weights quantized
// with the reference quantizers.
#include "model/synthetic.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/synthetic_tensors.h"
#include "quant/quant.h"

namespace hearth {

namespace {

// Gaussian values (mean, sd) from a per-tensor seed, so files do not depend on write order.
std::vector<float> gaussian(size_t n, uint64_t seed, float mean, float sd) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(mean, sd);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

uint64_t name_seed(uint64_t seed, const std::string& name) {
    uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
    for (char c : name) h = (h ^ uint8_t(c)) * 0x100000001B3ull;
    return h;
}

}  // namespace

void add_synthetic_matrix(gguf::Writer& w, const SyntheticSpec& s, const std::string& name, int64_t n_in, int64_t n_out) {
    const DTypeTraits& tt = dtype_traits(s.type);
    DType t = n_in % int64_t(tt.block_elems) == 0 ? s.type : DType::F16;
    const float sd = 1.0f / std::sqrt(float(n_in));
    const uint64_t seed = name_seed(s.seed, name);
    const size_t row_bytes = dtype_row_bytes(t, n_in);
    w.add_tensor(name, t, {n_in, n_out}, [=](uint8_t* dst, size_t nbytes) {
        HEARTH_ASSERT(nbytes == row_bytes * size_t(n_out));
        std::vector<float> v = gaussian(size_t(n_in * n_out), seed, 0.0f, sd);
        for (int64_t r = 0; r < n_out; ++r) quant::quantize_row(t, v.data() + r * n_in, dst + size_t(r) * row_bytes, n_in);
    });
}

void add_synthetic_vector(gguf::Writer& w, const SyntheticSpec& s, const std::string& name, std::vector<int64_t> shape, float mean,
                          float sd) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    // The writer calls back at write(): the values travel inside the callback.
    std::vector<float> v = gaussian(n, name_seed(s.seed, name), mean, sd);
    w.add_tensor(name, DType::F32, shape, [v = std::move(v)](uint8_t* dst, size_t nbytes) {
        HEARTH_ASSERT(nbytes == v.size() * sizeof(float));
        std::memcpy(dst, v.data(), nbytes);
    });
}

void write_synthetic_model(const SyntheticSpec& s, const std::string& out_path) {
    const ArchSpec& arch = find_arch(s.arch);
    for (auto [v, what] : {std::pair{s.n_layer, "n_layer"}, {s.n_embd, "n_embd"}, {s.n_head, "n_head"},
                           {s.n_head_kv, "n_head_kv"}, {s.head_dim, "head_dim"}, {s.n_ff, "n_ff"}})
        if (v < 1 || v > 65536) throw Error(ErrorKind::InvalidArgument, std::string(what) + " must be in [1, 65536]");
    if (s.n_head % s.n_head_kv != 0) throw Error(ErrorKind::InvalidArgument, "n_head must be a multiple of n_head_kv");
    if (s.head_dim % 2 != 0) throw Error(ErrorKind::InvalidArgument, "head_dim must be even (rope)");
    const DTypeTraits& tt = dtype_traits(s.type);
    if (!tt.can_quantize && s.type != DType::F32 && s.type != DType::F16)
        throw Error(ErrorKind::Unsupported, std::string("cannot write weights of type ") + tt.name);

    auto vocab = gguf::File::open(s.vocab_path);
    const auto* tokens = vocab->get_string_array("tokenizer.ggml.tokens");
    if (!tokens || tokens->empty())
        throw Error(ErrorKind::InvalidFile, "vocab file '" + s.vocab_path + "' has no tokenizer.ggml.tokens");
    const int64_t n_vocab_file = int64_t(tokens->size());
    if (s.n_vocab != 0 && (s.n_vocab < n_vocab_file || s.n_vocab > (int64_t(1) << 24)))
        throw Error(ErrorKind::InvalidArgument, "n_vocab " + std::to_string(s.n_vocab) + " must be 0 or in [" +
                                                    std::to_string(n_vocab_file) + ", 16777216] (the vocab has " +
                                                    std::to_string(n_vocab_file) + " tokens)");
    const int64_t n_vocab = s.n_vocab != 0 ? s.n_vocab : n_vocab_file;

    gguf::Writer w;
    const std::string a = s.arch + ".";
    w.set("general.architecture", gguf::Value::str(s.arch));
    w.set("general.name", gguf::Value::str("synthetic-" + s.arch));
    w.set(a + "context_length", gguf::Value::u32(uint32_t(s.n_ctx_train)));
    w.set(a + "embedding_length", gguf::Value::u32(uint32_t(s.n_embd)));
    w.set(a + "block_count", gguf::Value::u32(uint32_t(s.n_layer)));
    w.set(a + "feed_forward_length", gguf::Value::u32(uint32_t(s.n_ff)));
    w.set(a + "attention.head_count", gguf::Value::u32(uint32_t(s.n_head)));
    w.set(a + "attention.head_count_kv", gguf::Value::u32(uint32_t(s.n_head_kv)));
    w.set(a + "attention.key_length", gguf::Value::u32(uint32_t(s.head_dim)));
    w.set(a + "attention.value_length", gguf::Value::u32(uint32_t(s.head_dim)));
    w.set(a + "rope.freq_base", gguf::Value::f32(s.rope_base));
    w.set(a + "attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-6f));
    if (arch.swa_period > 0) w.set(a + "attention.sliding_window", gguf::Value::u32(uint32_t(s.sliding_window)));
    for (const gguf::KeyValue& kv : vocab->kvs()) {
        if (kv.key.rfind("tokenizer.", 0) != 0) continue;
        gguf::Value v = kv.value;
        // Padding: per-token arrays grow to n_vocab with control tokens that no text produces.
        if (n_vocab > n_vocab_file && v.type == gguf::ValueType::Array && int64_t(v.array_size()) == n_vocab_file) {
            for (int64_t i = n_vocab_file; i < n_vocab; ++i) {
                if (kv.key == "tokenizer.ggml.tokens") v.strings.push_back("<|synthetic_pad_" + std::to_string(i) + "|>");
                else if (kv.key == "tokenizer.ggml.token_type") v.ints.push_back(3);  // control
                else if (kv.key == "tokenizer.ggml.scores") v.floats.push_back(-1e9);
            }
        }
        w.set(kv.key, v);
    }

    if (!arch.causal) {  // encoders (bert, nomic-bert): their own tensor layout
        add_synthetic_encoder(w, s, n_vocab);
        w.write(out_path);
        return;
    }

    // Tensors. Matrices use s.type when their rows fit its blocks, else F16.
    auto add_matrix = [&](const std::string& name, int64_t n_in, int64_t n_out) { add_synthetic_matrix(w, s, name, n_in, n_out); };
    auto add_vector = [&](const std::string& name, int64_t n, float mean, float sd) { add_synthetic_vector(w, s, name, {n}, mean, sd); };

    const int64_t nq = s.n_head * s.head_dim, nkv = s.n_head_kv * s.head_dim;
    add_matrix("token_embd.weight", s.n_embd, n_vocab);
    add_vector("output_norm.weight", s.n_embd, 1.0f, 0.1f);
    if (!s.tied_output) add_matrix("output.weight", s.n_embd, n_vocab);
    for (int64_t il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        add_vector(p + "attn_norm.weight", s.n_embd, 1.0f, 0.1f);
        add_matrix(p + "attn_q.weight", s.n_embd, nq);
        add_matrix(p + "attn_k.weight", s.n_embd, nkv);
        add_matrix(p + "attn_v.weight", s.n_embd, nkv);
        if (arch.qkv_bias) {
            add_vector(p + "attn_q.bias", nq, 0.0f, 0.1f);
            add_vector(p + "attn_k.bias", nkv, 0.0f, 0.1f);
            add_vector(p + "attn_v.bias", nkv, 0.0f, 0.1f);
        }
        if (arch.qk_norm) {
            add_vector(p + "attn_q_norm.weight", s.head_dim, 1.0f, 0.1f);
            add_vector(p + "attn_k_norm.weight", s.head_dim, 1.0f, 0.1f);
        }
        add_matrix(p + "attn_output.weight", nq, s.n_embd);
        if (arch.post_norms) {
            add_vector(p + "post_attention_norm.weight", s.n_embd, 1.0f, 0.1f);
            add_vector(p + "post_ffw_norm.weight", s.n_embd, 1.0f, 0.1f);
        }
        add_vector(p + "ffn_norm.weight", s.n_embd, 1.0f, 0.1f);
        add_matrix(p + "ffn_gate.weight", s.n_embd, s.n_ff);
        add_matrix(p + "ffn_up.weight", s.n_embd, s.n_ff);
        add_matrix(p + "ffn_down.weight", s.n_ff, s.n_embd);
    }
    w.write(out_path);
}

}  // namespace hearth
