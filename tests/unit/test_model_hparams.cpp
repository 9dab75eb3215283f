// Hyper-parameter reading and weight binding: a well-formed tiny file loads with the right values,
// and every kind of inconsistency fails at load with an Error naming the key or tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace hearth {
namespace {

struct TinyFile {
    std::string arch = "llama";
    std::map<std::string, gguf::Value> kv;
    std::map<std::string, std::vector<int64_t>> tensors;  // name -> shape (F32 zeros)

    explicit TinyFile(const std::string& a, int64_t n_layer = 2) : arch(a) {
        const std::string p = a + ".";
        kv[p + "context_length"] = gguf::Value::u32(128);
        kv[p + "embedding_length"] = gguf::Value::u32(32);
        kv[p + "block_count"] = gguf::Value::u32(uint32_t(n_layer));
        kv[p + "feed_forward_length"] = gguf::Value::u32(64);
        kv[p + "attention.head_count"] = gguf::Value::u32(4);
        kv[p + "attention.head_count_kv"] = gguf::Value::u32(2);
        kv[p + "rope.freq_base"] = gguf::Value::f32(1e6f);
        if (a == "gemma3") kv[p + "attention.sliding_window"] = gguf::Value::u32(16);
        const ArchSpec& spec = find_arch(a);
        tensors["token_embd.weight"] = {32, 50};
        tensors["output_norm.weight"] = {32};
        for (int64_t il = 0; il < n_layer; ++il) {
            const std::string b = "blk." + std::to_string(il) + ".";
            tensors[b + "attn_norm.weight"] = {32};
            tensors[b + "attn_q.weight"] = {32, 32};
            tensors[b + "attn_k.weight"] = {32, 16};
            tensors[b + "attn_v.weight"] = {32, 16};
            tensors[b + "attn_output.weight"] = {32, 32};
            tensors[b + "ffn_norm.weight"] = {32};
            tensors[b + "ffn_gate.weight"] = {32, 64};
            tensors[b + "ffn_up.weight"] = {32, 64};
            tensors[b + "ffn_down.weight"] = {64, 32};
            if (spec.qk_norm) tensors[b + "attn_q_norm.weight"] = tensors[b + "attn_k_norm.weight"] = {8};
            if (spec.post_norms) tensors[b + "post_attention_norm.weight"] = tensors[b + "post_ffw_norm.weight"] = {32};
        }
    }

    std::unique_ptr<gguf::File> build() const {
        gguf::Writer w;
        w.set("general.architecture", gguf::Value::str(arch));
        for (const auto& [k, v] : kv) w.set(k, v);
        for (const auto& [name, shape] : tensors) {
            // Zeros written by a callback: the pointer overload keeps the caller's pointer until
            // to_bytes(), and a loop-local vector would be gone by then (ASan: heap-use-after-free).
            w.add_tensor(name, DType::F32, shape, [](uint8_t* dst, size_t nbytes) { std::memset(dst, 0, nbytes); });
        }
        auto bytes = w.to_bytes();
        return gguf::File::from_memory(bytes.data(), bytes.size());
    }
};

// Loads hparams + weights; returns the error message ("" when it loads).
std::string load_error(const TinyFile& t, ErrorKind expected = ErrorKind::InvalidFile) {
    auto f = t.build();
    try {
        const ArchSpec& spec = find_arch(*f->get_string("general.architecture"));
        HParams hp = read_hparams(*f, spec);
        load_weights(*f, spec, hp);
    } catch (const Error& e) {
        EXPECT_EQ(int(e.kind()), int(expected)) << e.what();
        return e.what();
    }
    return "";
}

TEST(ModelHparams, LoadsValidLlama) {
    TinyFile t("llama");
    auto f = t.build();
    const ArchSpec& spec = find_arch("llama");
    HParams hp = read_hparams(*f, spec);
    ModelWeights w = load_weights(*f, spec, hp);
    EXPECT_EQ(hp.n_layer, 2);
    EXPECT_EQ(hp.n_embd, 32);
    EXPECT_EQ(hp.n_head, 4);
    EXPECT_EQ(hp.n_head_kv, 2);
    EXPECT_EQ(hp.head_dim_k, 8);
    EXPECT_EQ(hp.n_rot, 8);
    EXPECT_EQ(hp.n_vocab, 50);
    EXPECT_FLOAT_EQ(hp.rope_base, 1e6f);
    EXPECT_NEAR(hp.query_scale, 1.0f / std::sqrt(8.0f), 1e-7);
    EXPECT_TRUE(w.tied_output);
    EXPECT_EQ(w.output.data, w.tok_embd.data);
    ASSERT_EQ(w.layers.size(), 2u);
    // Zero-copy: the bound pointer lies inside the file's bytes.
    EXPECT_GE(w.layers[1].ffn_down.data, f->base());
    EXPECT_LT(w.layers[1].ffn_down.data, f->base() + f->file_size());
}

TEST(ModelHparams, MissingKeyIsNamed) {
    TinyFile t("llama");
    t.kv.erase("llama.block_count");
    EXPECT_NE(load_error(t).find("llama.block_count"), std::string::npos);
}

TEST(ModelHparams, KvHeadsMustDivideHeads) {
    TinyFile t("llama");
    t.kv["llama.attention.head_count_kv"] = gguf::Value::u32(3);
    EXPECT_NE(load_error(t).find("llama.attention.head_count_kv"), std::string::npos);
}

TEST(ModelHparams, OutOfRangeValueIsNamed) {
    TinyFile t("llama");
    t.kv["llama.embedding_length"] = gguf::Value::u32(0);
    EXPECT_NE(load_error(t).find("llama.embedding_length"), std::string::npos);
}

TEST(ModelHparams, WrongTensorShapeIsNamed) {
    TinyFile t("llama");
    t.tensors["blk.1.attn_q.weight"] = {32, 24};
    const std::string msg = load_error(t);
    EXPECT_NE(msg.find("blk.1.attn_q.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("head_count"), std::string::npos) << msg;
}

TEST(ModelHparams, FfnLengthMismatchIsNamed) {
    TinyFile t("llama");
    t.kv["llama.feed_forward_length"] = gguf::Value::u32(96);
    const std::string msg = load_error(t);
    EXPECT_NE(msg.find("blk.0.ffn_gate.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("feed_forward_length"), std::string::npos) << msg;
}

TEST(ModelHparams, MissingTensorIsNamed) {
    TinyFile t("llama");
    t.tensors.erase("blk.1.ffn_down.weight");
    EXPECT_NE(load_error(t).find("blk.1.ffn_down.weight"), std::string::npos);
}

TEST(ModelHparams, LayerCountMismatchIsNamed) {
    TinyFile t("llama");
    t.kv["llama.block_count"] = gguf::Value::u32(3);
    EXPECT_NE(load_error(t).find("blk.2."), std::string::npos);
}

TEST(ModelHparams, VocabRowsMustMatchTokenizer) {
    TinyFile t("llama");
    std::vector<std::string> toks(49, "a");
    t.kv["tokenizer.ggml.tokens"] = gguf::Value::string_array(toks);
    EXPECT_NE(load_error(t).find("token_embd.weight"), std::string::npos);
}

TEST(ModelHparams, Qwen3NeedsQkNorm) {
    TinyFile t("qwen3");
    EXPECT_EQ(load_error(t), "");
    t.tensors.erase("blk.0.attn_k_norm.weight");
    EXPECT_NE(load_error(t).find("blk.0.attn_k_norm.weight"), std::string::npos);
}

TEST(ModelHparams, UnknownArchitecture) {
    EXPECT_THROW(find_arch("rwkv9"), Error);
    try {
        find_arch("rwkv9");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        EXPECT_NE(std::string(e.what()).find("qwen3"), std::string::npos);
    }
}

TEST(ModelHparams, Gemma3SlidingWindowPattern) {
    TinyFile t("gemma3", 12);
    auto f = t.build();
    HParams hp = read_hparams(*f, find_arch("gemma3"));
    EXPECT_EQ(hp.n_swa, 16);
    for (int il = 0; il < 12; ++il) {
        const bool global = il == 5 || il == 11;
        EXPECT_EQ(hp.is_swa(il), !global) << il;
        EXPECT_FLOAT_EQ(hp.layer_rope_base(il), global ? 1e6f : 10000.0f) << il;
    }
    EXPECT_NEAR(hp.embd_scale, std::sqrt(32.0f), 1e-5);
    t.kv.erase("gemma3.attention.sliding_window");
    EXPECT_NE(load_error(t).find("gemma3.attention.sliding_window"), std::string::npos);
}

}  // namespace
}  // namespace hearth
