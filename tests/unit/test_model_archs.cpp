// Every architecture of the table runs end to end on a small synthetic model: finite logits,
// deterministic results, incremental decoding (KV cache) equal to one-shot decoding, independent
// sequences in one batch, kv_copy prefix sharing, and a full cache failing with an Error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/arch.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "runtime/context.h"

namespace hearth {
namespace {

const std::string kVocab = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-llama-spm.gguf";

std::string synth_path(const std::string& arch, DType type) {
    return (std::filesystem::temp_directory_path() / ("hearth-test-" + arch + "-" + dtype_name(type) + "-" +
                                                      std::to_string(::getpid()) + ".gguf"))
        .string();
}

std::unique_ptr<Model> make_model(const std::string& arch, DType type = DType::F16, int64_t n_layer = 0) {
    SyntheticSpec s;
    s.arch = arch;
    s.vocab_path = kVocab;
    s.n_layer = n_layer > 0 ? n_layer : arch == "gemma3" ? 6 : 2;  // gemma3: 5 sliding layers + 1 global
    s.n_embd = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 32;
    s.n_ff = 128;
    s.sliding_window = 4;
    s.type = type;
    s.tied_output = arch != "llama";
    const std::string path = synth_path(arch, type);
    write_synthetic_model(s, path);
    auto m = Model::load(path, {.use_mmap = false});
    std::filesystem::remove(path);
    return m;
}

std::vector<float> row(const Context& ctx, size_t i) {
    const float* p = ctx.logits(i);
    return std::vector<float>(p, p + ctx.model().n_vocab());
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float d = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const float e = std::fabs(a[i] - b[i]);
        if (std::isnan(e)) return INFINITY;  // a NaN must never pass as "equal"
        d = std::max(d, e);
    }
    return d;
}

const std::vector<int32_t> kTokens = {1, 450, 7483, 310, 3444, 338, 3681, 29889, 13, 1576, 4799, 17};

class ModelArchs : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelArchs, RunsDeterministicallyAndCacheMatchesOneShot) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto model = make_model(GetParam());
    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    const size_t n = kTokens.size();

    // One shot: all tokens in one batch, logits everywhere.
    Context a(*model, cp);
    Batch b;
    for (size_t i = 0; i < n; ++i) b.add(kTokens[i], int32_t(i), 0, true);
    a.decode(b);
    for (size_t i = 0; i < n; ++i)
        for (float v : row(a, i)) ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(a.kv_pos_max(0), int32_t(n - 1));

    // Incremental: a 4-token prompt then one token at a time (tiny ubatches exercise the split).
    cp.n_ubatch = 3;
    Context c(*model, cp);
    Batch p;
    for (size_t i = 0; i < 4; ++i) p.add(kTokens[i], int32_t(i), 0, i == 3);
    c.decode(p);
    EXPECT_LT(max_abs_diff(row(c, 3), row(a, 3)), 2e-3f);
    for (size_t i = 4; i < n; ++i) {
        Batch s;
        s.add(kTokens[i], int32_t(i), 0, true);
        c.decode(s);
        EXPECT_LT(max_abs_diff(row(c, 0), row(a, i)), 2e-3f) << "position " << i;
    }

    // Determinism: the same batch again gives bit-identical logits.
    a.kv_clear();
    std::vector<float> first = row(a, n - 1);
    a.decode(b);
    EXPECT_EQ(row(a, n - 1), first);
}

TEST_P(ModelArchs, SequencesAreIndependentAndShareable) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto model = make_model(GetParam());
    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_threads = 2;
    cp.n_seq_max = 3;
    Context ctx(*model, cp);

    // Reference: sequence A alone.
    Batch ra;
    for (size_t i = 0; i < 6; ++i) ra.add(kTokens[i], int32_t(i), 0, i == 5);
    ctx.decode(ra);
    const auto ref_a = row(ctx, 5);
    ctx.kv_clear();

    // A (seq 0) and B (seq 1) interleaved in one batch.
    Batch ab;
    for (size_t i = 0; i < 6; ++i) {
        ab.add(kTokens[i], int32_t(i), 0, i == 5);
        ab.add(kTokens[11 - i], int32_t(i), 1, false);
    }
    ctx.decode(ab);
    EXPECT_LT(max_abs_diff(row(ctx, 10), ref_a), 2e-3f);

    // Prefix sharing: seq 2 := seq 0 then continues like seq 0 would.
    ctx.kv_copy(0, 2);
    EXPECT_EQ(ctx.kv_pos_max(2), 5);
    Batch c0, c2;
    c0.add(kTokens[6], 6, 0, true);
    ctx.decode(c0);
    const auto next0 = row(ctx, 0);
    c2.add(kTokens[6], 6, 2, true);
    ctx.decode(c2);
    EXPECT_LT(max_abs_diff(row(ctx, 0), next0), 2e-3f);

    // kv_remove then re-decode gives the same logits again.
    ctx.kv_remove(0, 6);
    EXPECT_EQ(ctx.kv_pos_max(0), 5);
    ctx.decode(c0);
    EXPECT_LT(max_abs_diff(row(ctx, 0), next0), 2e-3f);
}

TEST_P(ModelArchs, BadBatchesThrow) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto model = make_model(GetParam());
    ContextParams cp;
    cp.n_ctx = 8;
    cp.n_threads = 1;
    Context ctx(*model, cp);
    Batch bad;
    bad.add(int32_t(model->n_vocab()), 0, 0, true);
    EXPECT_THROW(ctx.decode(bad), Error);
    Batch bad_seq;
    bad_seq.add(1, 0, 5, true);
    EXPECT_THROW(ctx.decode(bad_seq), Error);
    EXPECT_THROW(ctx.decode(Batch{}), Error);
    Batch full;
    for (int i = 0; i < 9; ++i) full.add(1, i, 0, i == 8);
    try {
        ctx.decode(full);
        FAIL() << "expected KV cache full";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("n_ctx"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ctx.kv_pos_max(0), -1);  // the failed batch left nothing behind
    EXPECT_THROW(ctx.logits(8), Error);  // a failed decode leaves no readable logits
}

// Every causal language-model architecture of the table (encoders such as bert have no LM head).
std::vector<std::string> arch_names() {
    std::vector<std::string> v;
    for (const ArchSpec& a : arch_table())
        if (a.causal) v.push_back(a.name);
    return v;
}

INSTANTIATE_TEST_SUITE_P(All, ModelArchs, ::testing::ValuesIn(arch_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// A quantized synthetic model also runs (weights through the quantized matmul path).
TEST(ModelArchsQuant, QuantizedWeightsRun) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    for (DType t : {DType::Q8_0, DType::Q4_0}) {
        auto model = make_model("qwen3", t);
        ContextParams cp;
        cp.n_ctx = 32;
        cp.n_threads = 2;
        Context ctx(*model, cp);
        Batch b;
        for (size_t i = 0; i < 5; ++i) b.add(kTokens[i], int32_t(i), 0, i == 4);
        ctx.decode(b);
        for (float v : row(ctx, 4)) ASSERT_TRUE(std::isfinite(v)) << dtype_name(t);
    }
}

// The default context (the trained length, 4096 here) costs KV memory only as it fills: pages are
// taken as tokens arrive and returned when the sequence is cleared.
TEST(ModelArchsMemory, KvMemoryGrowsWithTokens) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto model = make_model("qwen3");
    ContextParams cp;  // n_ctx = 0: trained length
    cp.n_threads = 2;
    Context ctx(*model, cp);
    EXPECT_EQ(ctx.n_ctx(), model->n_ctx_train());
    MemoryReport m0 = ctx.memory();
    EXPECT_EQ(m0.kv_allocated, 0u);
    EXPECT_GT(m0.kv_capacity, 0u);
    EXPECT_GT(m0.weights, 0u);
    Batch b;
    for (int32_t i = 0; i < 300; ++i) b.add(kTokens[size_t(i) % kTokens.size()], i, 0, i == 299);
    ctx.decode(b);
    MemoryReport m1 = ctx.memory();
    EXPECT_GT(m1.kv_used, 0u);
    EXPECT_GE(m1.kv_allocated, m1.kv_used);
    EXPECT_LT(m1.kv_allocated * 4, m1.kv_capacity);  // 2 pages of 16
    EXPECT_GT(m1.compute, 0u);
    ctx.kv_clear();
    EXPECT_EQ(ctx.memory().kv_allocated, 0u);
}

// params.embeddings keeps the final normed hidden state of each output token.
TEST(ModelArchsEmbeddings, FinalHiddenState) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto model = make_model("llama");
    ContextParams cp;
    cp.n_ctx = 32;
    cp.n_threads = 2;
    cp.embeddings = true;
    Context ctx(*model, cp);
    Batch b;
    for (int32_t i = 0; i < 4; ++i) b.add(kTokens[size_t(i)], i, 0, i >= 2);
    ctx.decode(b);
    for (size_t i : {2u, 3u}) {
        const float* e = ctx.embeddings(i);
        double ss = 0;
        for (int64_t j = 0; j < model->n_embd(); ++j) {
            ASSERT_TRUE(std::isfinite(e[j]));
            ss += double(e[j]) * e[j];
        }
        EXPECT_GT(ss, 0.0);
    }
    EXPECT_THROW(ctx.embeddings(0), Error);  // no output requested for token 0
    cp.embeddings = false;
    Context plain(*model, cp);
    plain.decode(b);
    EXPECT_THROW(plain.embeddings(2), Error);
}

// With only sliding-window layers (window 4, 5 layers: receptive field 5*3 = 15 positions), the
// logits at position 20 do not depend on the first token, while with the global 6th layer they do.
TEST(ModelArchsSwa, SlidingWindowLimitsContext) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no " << kVocab;
    auto last_logits = [](const Model& m, int32_t first_token) {
        ContextParams cp;
        cp.n_ctx = 64;
        cp.n_threads = 2;
        Context ctx(m, cp);
        Batch b;
        for (int32_t i = 0; i <= 20; ++i) b.add(i == 0 ? first_token : kTokens[size_t(i) % kTokens.size()], i, 0, i == 20);
        ctx.decode(b);
        return row(ctx, 20);
    };
    auto swa_only = make_model("gemma3", DType::F16, 5);
    EXPECT_EQ(max_abs_diff(last_logits(*swa_only, 1), last_logits(*swa_only, 500)), 0.0f);
    auto with_global = make_model("gemma3", DType::F16, 6);
    EXPECT_GT(max_abs_diff(last_logits(*with_global, 1), last_logits(*with_global, 500)), 1e-4f);
}

}  // namespace
}  // namespace hearth
