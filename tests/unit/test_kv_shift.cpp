// KV-cache shift (context shift): after dropping a span of a sequence and shifting the rest down
// (positions moved, cached K re-rotated), the next token's logits must equal those of a fresh context
// fed the kept tokens at their new positions, for every rope variant (NeoX, normal, gemma3's
// local/global bases with a sliding window) and KV configuration; plus the cell bookkeeping rules.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/error.h"
#include "model/arch.h"
#include "model/hparams.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "core/ops.h"
#include "runtime/runtime_context.h"
#include "runtime/kv_cache.h"
#include "runtime/kv_shift.h"
#include "runtime/logit_compare.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
namespace {

using runtime::Context;

const std::string kShared = HEARTH_SHARED_DIR;


// The default model (Gemma 3 270M, in the checkout's models/ when downloaded) or a shared test model.
std::string model_path(const std::string& name) {
    if (name == "gemma-3-270m") return std::string(HEARTH_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf";
    return kShared + "/models/" + name + ".gguf";
}

// "<arch>-synth-<n_layer>": a synthetic model (gemma3-synth-6: sliding window 8 with base 10000 on
// layers 0-4, base 1e6 on the global layer 5); anything else: a file of shared/models.
std::unique_ptr<Model> load_model(const std::string& name) {
    if (name.find("-synth-") != std::string::npos) {
        SyntheticSpec s;
        s.arch = name.substr(0, name.find('-'));
        s.vocab_path = kShared + "/vocab/ggml-vocab-llama-spm.gguf";
        s.n_layer = std::stoi(name.substr(name.rfind('-') + 1));
        s.n_embd = 64;
        s.n_head = 4;
        s.n_head_kv = 2;
        s.head_dim = 32;
        s.n_ff = 128;
        s.sliding_window = s.n_layer == 1 ? 64 : 8;  // one layer: the window must reach the kept head
        s.rope_base = 1e6f;
        s.tied_output = s.arch != "llama";
        const std::string path = (std::filesystem::temp_directory_path() /
                                  ("hearth-kvshift-" + name + "-" + std::to_string(::getpid()) + ".gguf"))
                                     .string();
        write_synthetic_model(s, path);
        auto m = Model::load(path, {.use_mmap = false});
        std::filesystem::remove(path);
        return m;
    }
    return Model::load(model_path(name));
}

struct KvConfig {
    const char* name;
    DType k, v;
    bool khad;
    float tol;  // |logit difference| allowed against the fresh context, on top of the noise floors
};

std::vector<float> logits_of(const Context& ctx, size_t i) {
    const float* p = ctx.logits(i);
    return std::vector<float>(p, p + ctx.model().n_vocab());
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    float d = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const float e = std::fabs(a[i] - b[i]);
        if (std::isnan(e)) return INFINITY;
        d = std::max(d, e);
    }
    return d;
}

double kl_divergence(const std::vector<float>& ref_logits, const std::vector<float>& logits) {
    const int64_t n = int64_t(ref_logits.size());
    std::vector<float> a(ref_logits.size()), b(logits.size());
    log_softmax(ref_logits.data(), n, a.data());
    log_softmax(logits.data(), n, b.data());
    return compare_logprobs(a.data(), b.data(), n, 0).kld;
}

std::vector<int32_t> test_tokens(int64_t n_vocab, int n) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back(int32_t((1 + 7919 * int64_t(i + 3)) % n_vocab));
    return t;
}

void decode_run(Context& ctx, const std::vector<int32_t>& toks, int32_t pos0, int32_t seq = 0) {
    Batch b;
    for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], pos0 + int32_t(i), seq, i + 1 == toks.size());
    ctx.decode(b);
}

ContextParams params_for(const KvConfig& c) {
    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    cp.kv_type_k = c.k;
    cp.kv_type_v = c.v;
    cp.kv_hadamard_k = c.khad;
    return cp;
}

// kConfigs[0] must be the exact f32 configuration (the reference of the type noise floor).
const KvConfig kConfigs[] = {
    {"f32", DType::F32, DType::F32, false, 1e-3f},
    {"f16", DType::F16, DType::F16, false, 5e-3f},
    {"q8_0", DType::Q8_0, DType::Q8_0, false, 5e-3f},
    {"f16+khad", DType::F16, DType::F16, true, 5e-3f},
    {"q8_0+khad", DType::Q8_0, DType::F16, true, 5e-3f},
    {"q4_0+khad", DType::Q4_0, DType::Q4_0, true, 5e-3f},
};

struct Case {
    std::string model;
    int keep;  // > 0 only for 1-layer models (see below)
    KvConfig cfg;
};
class KvShift : public ::testing::TestWithParam<Case> {};

// Drop [keep, keep+d) of a sequence of n tokens, shift [keep+d, n) by -d, decode one more token: its
// logits must equal a fresh context's that was fed the kept tokens at positions [0, n-d) directly.
// Exact only where every cached K/V row is the same function of its token in both contexts:
//  - keep > 0 with a 1-layer model: layer-0 K/V depend on the token and its position alone, so the
//    whole sequence is prefilled and the span removed (as a context shift does);
//  - keep = 0 with deep models: only the tail is prefilled (at positions [d, n)), so the tail sees
//    the same relative positions as in the fresh context and only the rope angle of K differs.
TEST_P(KvShift, ShiftedCacheMatchesFreshContext) {
    const Case& c = GetParam();
    if (c.model.find("-synth-") == std::string::npos && !std::filesystem::exists(model_path(c.model)))
        GTEST_SKIP() << "no model " << c.model;
    if (!std::filesystem::exists(kShared + "/vocab/ggml-vocab-llama-spm.gguf")) GTEST_SKIP() << "no vocab";
    auto model = load_model(c.model);
    ASSERT_TRUE(c.keep == 0 || model->hparams().n_layer == 1);
    const int n = 40, keep = c.keep, d = 17;
    // Real models get real text (arbitrary ids of a trained vocabulary hit unused rows).
    std::vector<int32_t> toks = test_tokens(model->n_vocab(), n + 1);
    if (c.model == "gemma-3-270m") {
        toks = model->tokenizer().encode(
            "The river wound through the valley, past the old mill and the orchards, until it reached the sea where "
            "the fishing boats waited for the tide. Every morning the baker opened his shop before dawn, and the smell of "
            "fresh bread drifted down the narrow streets toward the harbour.",
            false, false);
        ASSERT_GE(toks.size(), size_t(n + 1));
    }
    const std::vector<int32_t> prompt(toks.begin(), toks.begin() + n);
    const int32_t next = toks[n];

    Context shifted(*model, params_for(c.cfg));
    if (keep > 0) {
        decode_run(shifted, prompt, 0);
        shifted.kv_remove(0, keep, keep + d);
    } else {
        decode_run(shifted, std::vector<int32_t>(prompt.begin() + d, prompt.end()), d);
    }
    shifted.kv_shift(0, keep + d, -1, -d);
    EXPECT_EQ(shifted.kv_pos_max(0), n - d - 1);
    decode_run(shifted, {next}, n - d);
    const std::vector<float> got = logits_of(shifted, 0);

    std::vector<int32_t> kept(prompt.begin(), prompt.begin() + keep);
    kept.insert(kept.end(), prompt.begin() + keep + d, prompt.end());
    kept.push_back(next);
    Context fresh(*model, params_for(c.cfg));
    decode_run(fresh, kept, 0);
    const std::vector<float> want = logits_of(fresh, kept.size() - 1);
    const float diff = max_abs_diff(got, want);

    // Noise floors the shift cannot beat: (1) float rope at other absolute positions (the same kept
    // tokens fed at positions [d, n)) — random-weight models amplify it to ~1e-3 over a few layers;
    // (2) the KV type's own rounding (fresh context with this type vs with f32). The re-rotation
    // re-quantizes K once more, so up to one more rounding of that size is allowed.
    Context offset(*model, params_for(c.cfg));
    decode_run(offset, kept, d);
    const float rope_floor = max_abs_diff(logits_of(offset, kept.size() - 1), want);
    Context exact(*model, params_for(kConfigs[0]));
    decode_run(exact, kept, 0);
    const float type_floor = max_abs_diff(logits_of(exact, kept.size() - 1), want);
    const float tol = c.cfg.tol + 2 * rope_floor + type_floor;
    EXPECT_LT(diff, tol) << c.model << " " << c.cfg.name << " (rope floor " << rope_floor << ", type floor " << type_floor << ")";
    // The same in distribution terms: KL(fresh || shifted) stays within the offset context's.
    const double kld = kl_divergence(want, got), kld_floor = kl_divergence(want, logits_of(offset, kept.size() - 1));
    EXPECT_LT(kld, 2 * kld_floor + 1e-4 + kl_divergence(want, logits_of(exact, kept.size() - 1)));

    // With a kept head the check can fail: the same cache left unshifted (the new token after the
    // old positions) puts the head at other distances and is far off (shown for float K; 4-bit K
    // noise on random weights is as large as the effect).
    float wrong = 0;
    if (keep > 0 && (c.cfg.k == DType::F32 || c.cfg.k == DType::F16)) {
        Context unshifted(*model, params_for(c.cfg));
        decode_run(unshifted, prompt, 0);
        unshifted.kv_remove(0, keep, keep + d);
        decode_run(unshifted, {next}, n);
        wrong = max_abs_diff(logits_of(unshifted, 0), want);
        EXPECT_GT(wrong, 10 * tol) << "the test cannot tell a shift from no shift";
    }
    std::printf("[kv_shift] %-20s keep %d %-10s max |dlogit| %.2e (allowed %.2e; unshifted %.2e), KLD %.2e (offset %.2e)\n",
                c.model.c_str(), keep, c.cfg.name, diff, tol, wrong, kld, kld_floor);
}

std::vector<Case> cases() {
    std::vector<Case> v;
    for (const KvConfig& cfg : kConfigs) {
        for (const char* m : {"qwen3-synth-1", "llama-synth-1", "gemma3-synth-1"}) v.push_back({m, 5, cfg});
        for (const char* m : {"tiny-qwen3-bpe-f16", "tiny-llama-spm-f16", "gemma3-synth-6"}) v.push_back({m, 0, cfg});
    }
    v.push_back({"gemma-3-270m", 0, kConfigs[1]});  // the real default model (skipped when absent)
    v.push_back({"gemma-3-270m", 0, kConfigs[4]});
    return v;
}

INSTANTIATE_TEST_SUITE_P(All, KvShift, ::testing::ValuesIn(cases()), [](const ::testing::TestParamInfo<Case>& i) {
    std::string s = i.param.model + "_" + i.param.cfg.name;
    for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return s;
});

// Turning by a then by b is turning by a+b; turning by -a undoes a (both rope variants).
TEST(KvShiftRope, RotationsCompose) {
    for (ops::RopeMode mode : {ops::RopeMode::NeoX, ops::RopeMode::Normal}) {
        ops::RopeParams rp;
        rp.n_dims = 16;
        rp.mode = mode;
        rp.freq_base = 10000.0f;
        rp.freq_scale = 0.5f;
        std::vector<float> x(20), y;
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 1.3f) + 0.1f;
        y = x;
        rope_rotate_by(y.data(), rp, 300);
        rope_rotate_by(y.data(), rp, 45);
        std::vector<float> z = x;
        rope_rotate_by(z.data(), rp, 345);
        EXPECT_LT(max_abs_diff(y, z), 1e-5f);
        rope_rotate_by(z.data(), rp, -345);
        EXPECT_LT(max_abs_diff(x, z), 1e-5f);
        EXPECT_EQ(z[17], x[17]);  // dims past n_dims pass through
    }
}

HParams small_hp() {
    HParams hp;
    hp.n_layer = 2;
    hp.n_embd = 64;
    hp.n_head = 4;
    hp.n_head_kv = 2;
    hp.head_dim_k = hp.head_dim_v = 16;
    hp.n_rot = 16;
    hp.swa_layer.assign(2, 0);
    return hp;
}

TEST(KvShiftCells, MovesRangeFreesNegativesAndUnshares) {
    KvCache kv(small_hp(), 512, 2, DType::F32, DType::F32);
    std::vector<int32_t> pos, seq(10, 0);
    for (int32_t i = 0; i < 10; ++i) pos.push_back(i);
    const auto cells = kv.place(pos.data(), seq.data(), 10);
    for (int32_t c : cells) std::fill_n(reinterpret_cast<float*>(kv.k_data(0) + size_t(c) * kv.k_row_bytes()), 32, float(c));
    kv.copy(0, 1);  // all ten cells shared by seq 0 and 1

    // Shift seq 0's [6, 10) down by 2: those four cells are copied for seq 0, seq 1 keeps its own.
    const auto moved = kv.shift_positions(0, 6, -1, -2);
    ASSERT_EQ(moved.size(), 4u);
    EXPECT_EQ(kv.pos_max(0), 7);
    EXPECT_EQ(kv.pos_max(1), 9);
    for (int32_t c : moved) {
        EXPECT_TRUE(kv.visible(c, 0));
        EXPECT_FALSE(kv.visible(c, 1));
        EXPECT_GE(c, 10);  // fresh cells
        EXPECT_EQ(reinterpret_cast<const float*>(kv.k_data(0) + size_t(c) * kv.k_row_bytes())[0], float(kv.cell_pos(c) + 2 - 0))
            << "the copy carries the original row";
    }
    // Moving [0, 3) of seq 1 by -2 frees positions 0 and 1 of seq 1 (they would go negative).
    const uint64_t used_before = uint64_t(kv.stats().cells_used);
    const auto moved1 = kv.shift_positions(1, 0, 3, -2);
    EXPECT_EQ(moved1.size(), 1u);
    EXPECT_EQ(kv.cell_pos(moved1[0]), 0);
    EXPECT_EQ(uint64_t(kv.stats().cells_used), used_before + 1);  // cell 2 was copied; 0 and 1 stay for seq 0
}

TEST(KvShiftErrors, BadArgumentsThrow) {
    const std::string path = kShared + "/models/tiny-qwen3-bpe-f16.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    auto model = Model::load(path);
    ContextParams cp;
    cp.n_ctx = 32;
    cp.n_threads = 1;
    Context ctx(*model, cp);
    EXPECT_THROW(ctx.kv_shift(3, 0, -1, -1), Error);
    EXPECT_THROW(ctx.kv_shift(-1, 0, -1, -1), Error);
    ctx.kv_shift(0, 0, -1, -1);  // empty sequence: nothing to do
    EXPECT_EQ(ctx.kv_pos_max(0), -1);
    EXPECT_EQ(context_shift_discard(10, 2), 4);
    EXPECT_EQ(context_shift_discard(3, 2), 0);
}

}  // namespace
}  // namespace hearth
