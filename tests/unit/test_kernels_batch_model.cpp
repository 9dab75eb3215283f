// Batch invariance end to end (issue 5): greedy decoding of several sequences batched together
// (prompts prefilled in one mixed batch, then one token per sequence per step) must give, per
// sequence, bitwise the logits of that sequence decoded alone in its own context.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/runtime_context.h"

namespace hearth {
namespace {

std::string model_path(const char* name) { return std::string(HEARTH_SHARED_DIR) + "/models/" + name; }

int32_t argmax(const float* v, int64_t n) {
    int32_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = static_cast<int32_t>(i);
    return best;
}

constexpr int kSeqs = 4, kSteps = 6;
// All sequences together stay within one flash-attention KV tile (64 cells): across tile boundaries
// the online-softmax rescaling still depends on where a sequence's cells sit (cpu_ops_attention.cpp).
const int kThreads = 2, kPromptBase = 3;

std::vector<int32_t> prompt(int s, int64_t n_vocab) {
    std::vector<int32_t> p;
    for (int i = 0; i < kPromptBase + 2 * s; ++i) p.push_back(static_cast<int32_t>((17 + 131 * s + 7 * i) % n_vocab));
    return p;
}

// Logits (n_vocab floats) after the prompt and after each of kSteps greedy tokens of sequence s alone.
std::vector<std::vector<float>> run_alone(const Model& m, int s) {
    ContextParams cp;
    cp.n_ctx = 256;
    cp.n_threads = kThreads;
    runtime::Context ctx(m, cp);
    const int64_t nv = m.n_vocab();
    const std::vector<int32_t> p = prompt(s, nv);
    Batch b;
    for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), 0, i + 1 == p.size());
    ctx.decode(b);
    std::vector<std::vector<float>> out;
    int32_t pos = static_cast<int32_t>(p.size());
    for (int step = 0; step <= kSteps; ++step) {
        const float* l = ctx.logits(b.size() - 1);
        out.emplace_back(l, l + nv);
        if (step == kSteps) break;
        const int32_t tok = argmax(l, nv);
        b.clear();
        b.add(tok, pos++, 0, true);
        ctx.decode(b);
    }
    return out;
}

void check_model(const char* name) {
    SCOPED_TRACE(name);
    auto m = Model::load(model_path(name));
    const int64_t nv = m->n_vocab();
    std::vector<std::vector<std::vector<float>>> alone;
    for (int s = 0; s < kSeqs; ++s) alone.push_back(run_alone(*m, s));

    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_threads = kThreads;
    cp.n_seq_max = kSeqs;
    runtime::Context ctx(*m, cp);
    Batch b;
    std::vector<size_t> last(kSeqs);
    std::vector<int32_t> pos(kSeqs);
    for (int s = 0; s < kSeqs; ++s) {  // all prompts in one batch
        const std::vector<int32_t> p = prompt(s, nv);
        for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), s, i + 1 == p.size());
        last[s] = b.size() - 1;
        pos[s] = static_cast<int32_t>(p.size());
    }
    ctx.decode(b);
    for (int step = 0; step <= kSteps; ++step) {
        std::vector<int32_t> next(kSeqs);
        for (int s = 0; s < kSeqs; ++s) {
            const float* l = ctx.logits(last[s]);
            const std::vector<float>& ref = alone[s][step];
            int diff = 0;
            for (int64_t i = 0; i < nv; ++i) diff += std::memcmp(&l[i], &ref[i], sizeof(float)) != 0;
            EXPECT_EQ(diff, 0) << "sequence " << s << " step " << step;
            next[s] = argmax(l, nv);
        }
        if (step == kSteps) break;
        b.clear();
        for (int s = 0; s < kSeqs; ++s) {
            b.add(next[s], pos[s]++, s, true);
            last[s] = b.size() - 1;
        }
        ctx.decode(b);
    }
}

TEST(KernelsBatchModel, BatchedSequencesEqualEachAlone) {
    for (const char* name : {"tiny-qwen3-bpe-Q4_0.gguf", "tiny-qwen3-bpe-Q8_0.gguf", "tiny-qwen3-bpe-Q4_K_M.gguf",
                             "tiny-qwen3-bpe-Q5_K_M.gguf", "tiny-qwen3-bpe-IQ4_XS.gguf", "tiny-llama-spm-Q4_K_M.gguf"})
        check_model(name);
}

// F16 weights go through the register-blocked float matmul (matmul_float.h): same guarantee.
TEST(KernelsBatchModel, F16ModelsBatchedEqualEachAlone) {
    for (const char* name : {"tiny-qwen3-bpe-f16.gguf", "tiny-llama-spm-f16.gguf"}) check_model(name);
}

}  // namespace
}  // namespace hearth
