// Decode graph reuse (runtime::Context::set_graph_reuse): a decode step with the shape of the step
// before runs the graph built then, re-pointed at the new KV cells, without building or planning
// anything. It must give bitwise the logits of a freshly built graph through everything that moves
// the cache under it: n_kv crossing its 32-cell rounding, several sequences, cells freed and
// handed out again, sliding-window masks, Hadamard-rotated and quantized caches, 1 and 2 threads.
// The CPU backend runs in verify mode (HEARTH_VERIFY_PLAN_REUSE): each reused node plan is checked
// against a fresh one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <unistd.h>
#include <vector>

#include "model/model.h"
#include "model/synthetic.h"
#include "runtime/runtime_context.h"

namespace hearth {
namespace {

using runtime::Context;

const std::string kVocab = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-llama-spm.gguf";

std::unique_ptr<Model> synthetic(const std::string& arch) {
    SyntheticSpec s;
    s.arch = arch;
    s.vocab_path = kVocab;
    s.n_layer = 3;
    s.n_embd = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 32;
    s.n_ff = 128;
    s.sliding_window = 8;  // gemma3: layers 0-1 see 8 cells, layer 2 all
    s.rope_base = 1e6f;
    const std::string path =
        (std::filesystem::temp_directory_path() / ("hearth-reuse-" + arch + "-" + std::to_string(::getpid()) + ".gguf")).string();
    write_synthetic_model(s, path);
    auto m = Model::load(path, {.use_mmap = false});
    std::filesystem::remove(path);
    return m;
}

struct Config {
    const char* arch;
    DType k, v;
    bool khad, vhad;
    int threads;
};

std::string config_name(const ::testing::TestParamInfo<Config>& i) {
    std::string s = std::string(i.param.arch) + "_" + dtype_name(i.param.k) + "_" + dtype_name(i.param.v) +
                    (i.param.khad ? "_khad" : "") + (i.param.vhad ? "_vhad" : "") + "_t" + std::to_string(i.param.threads);
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

void PrintTo(const Config& c, std::ostream* os) { *os << c.arch << " K " << dtype_name(c.k) << " V " << dtype_name(c.v) << " t" << c.threads; }

class GraphReuse : public ::testing::TestWithParam<Config> {};

// Runs the same script on two contexts, reuse on and off, and compares every logit bitwise.
TEST_P(GraphReuse, SameLogitsAsFreshGraphs) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no vocab";
    const Config& c = GetParam();
    ::setenv("HEARTH_VERIFY_PLAN_REUSE", "1", 1);
    auto model = synthetic(c.arch);
    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_seq_max = 2;
    cp.n_threads = c.threads;
    cp.kv_type_k = c.k;
    cp.kv_type_v = c.v;
    cp.kv_hadamard_k = c.khad;
    cp.kv_hadamard_v = c.vhad;
    Context reused(*model, cp), fresh(*model, cp);
    ::unsetenv("HEARTH_VERIFY_PLAN_REUSE");
    reused.set_graph_reuse(true);
    fresh.set_graph_reuse(false);
    const int64_t n_vocab = model->n_vocab();

    int step = 0;
    // Decodes b on both, checks every requested row bitwise, returns the argmax of each row.
    auto run = [&](const Batch& b) {
        reused.decode(b);
        fresh.decode(b);
        std::vector<int32_t> next;
        for (size_t i = 0; i < b.size(); ++i) {
            if (!b.logits[i]) continue;
            const float* x = reused.logits(i);
            const float* y = fresh.logits(i);
            EXPECT_EQ(std::memcmp(x, y, size_t(n_vocab) * sizeof(float)), 0) << "step " << step << " row " << i;
            next.push_back(int32_t(std::max_element(x, x + n_vocab) - x));
        }
        ++step;
        return next;
    };
    auto one = [](int32_t tok, int32_t pos, int32_t seq) {
        Batch b;
        b.add(tok, pos, seq, true);
        return b;
    };

    // A prompt, then greedy single-token steps across the 32-cell rounding of n_kv (32, 64).
    Batch prompt;
    for (int i = 0; i < 7; ++i) prompt.add(int32_t((11 + 7919 * i) % n_vocab), i, 0, i == 6);
    int32_t tok = run(prompt)[0], pos = 7;
    for (; pos < 70; ++pos) tok = run(one(tok, pos, 0))[0];
    const size_t reused_single = reused.graphs_reused();
    EXPECT_GE(reused_single, size_t(60));  // every step after the first single-token one
    EXPECT_EQ(fresh.graphs_reused(), size_t(0));

    // Two sequences a step: a new shape (two runs of one cell, or one run of two), then reused.
    int32_t tok1 = tok, pos1 = 0;
    for (int s = 0; s < 12; ++s, ++pos, ++pos1) {
        Batch b;
        b.add(tok, pos, 0, true);
        b.add(tok1, pos1, 1, true);
        const std::vector<int32_t> nx = run(b);
        tok = nx[0];
        tok1 = nx[1];
    }
    EXPECT_GT(reused.graphs_reused(), reused_single);

    // Free the middle of sequence 0: later tokens land in the freed cells, below n_kv.
    reused.kv_remove(0, 20, 40);
    fresh.kv_remove(0, 20, 40);
    for (int s = 0; s < 25; ++s, ++pos) tok = run(one(tok, pos, 0))[0];
    // And sequence 1 dropped entirely, then refilled from position 0.
    reused.kv_remove(1, 0, -1);
    fresh.kv_remove(1, 0, -1);
    for (int s = 0; s < 5; ++s) tok1 = run(one(tok1, s, 1))[0];

    // Perplexity's pattern: the same whole-window batch after clearing the cache, reused.
    const size_t before = reused.graphs_reused();
    for (int rep = 0; rep < 2; ++rep) {
        reused.kv_clear();
        fresh.kv_clear();
        Batch w;
        for (int i = 0; i < 40; ++i) w.add(int32_t((5 + 104729 * i) % n_vocab), i, 0, true);
        run(w);
    }
    EXPECT_EQ(reused.graphs_reused(), before + 1);
}

INSTANTIATE_TEST_SUITE_P(
    Decode, GraphReuse,
    ::testing::Values(Config{"qwen3", DType::F16, DType::F16, false, false, 2}, Config{"qwen3", DType::F16, DType::F16, false, false, 1},
                      Config{"gemma3", DType::F16, DType::F16, false, false, 2}, Config{"llama", DType::F32, DType::F32, false, false, 2},
                      Config{"qwen3", DType::Q8_0, DType::Q8_0, true, false, 2}, Config{"qwen3", DType::Q4_0, DType::Q4_0, true, true, 2},
                      Config{"gemma3", DType::Q8_0, DType::F16, true, false, 1}),
    config_name);

// A new shape (another token count) builds a new graph; the shape after it reuses again, and a
// graph dump request always builds (so the dump shows the graph that runs).
TEST(GraphReuse, NewShapesBuildAgain) {
    if (!std::filesystem::exists(kVocab)) GTEST_SKIP() << "no vocab";
    auto model = synthetic("qwen3");
    ContextParams cp;
    cp.n_ctx = 128;
    cp.n_threads = 2;
    Context ctx(*model, cp);
    auto decode = [&](int n, int32_t pos0) {
        Batch b;
        for (int i = 0; i < n; ++i) b.add(int32_t(100 + i), pos0 + i, 0, i == n - 1);
        ctx.decode(b);
    };
    decode(4, 0);
    decode(1, 4);
    EXPECT_EQ(ctx.graphs_reused(), size_t(0));
    decode(1, 5);
    EXPECT_EQ(ctx.graphs_reused(), size_t(1));
    decode(3, 6);  // another shape
    decode(1, 9);
    EXPECT_EQ(ctx.graphs_reused(), size_t(1));
    const std::string dot = (std::filesystem::temp_directory_path() / ("hearth-reuse-" + std::to_string(::getpid()) + ".dot")).string();
    ctx.dump_next_graph(dot);
    decode(1, 10);
    EXPECT_EQ(ctx.graphs_reused(), size_t(1));
    EXPECT_TRUE(std::filesystem::exists(dot));
    std::filesystem::remove(dot);
    decode(1, 11);
    EXPECT_EQ(ctx.graphs_reused(), size_t(2));
    // Flash attention off: the mul_mat path sizes its buffers by n_kv and is never reused.
    cp.flash_attn = FlashAttn::Off;
    Context off(*model, cp);
    Batch b;
    for (int i = 0; i < 3; ++i) {
        b.clear();
        b.add(int32_t(100 + i), i, 0, true);
        off.decode(b);
    }
    EXPECT_EQ(off.graphs_reused(), size_t(0));
}

}  // namespace
}  // namespace hearth
