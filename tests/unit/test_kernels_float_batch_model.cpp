// Batch invariance end to end for F16-weight models (the float matmul of matmul_float.h): several
// sequences prefilled in one batch and then decoded together give, per sequence, bitwise the logits
// of that sequence decoded alone.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/runtime_context.h"

namespace hearth {
namespace {

// 4 sequences x (prompt <= 9 + 5 steps) stay inside one 64-cell flash-attention KV tile, where the
// attention itself is batch-invariant; this test is about the matmuls.
constexpr int kSeqs = 4, kSteps = 5, kThreads = 2;

std::vector<int32_t> prompt(int s, int64_t n_vocab) {
    std::vector<int32_t> p;
    for (int i = 0; i < 3 + 2 * s; ++i) p.push_back(static_cast<int32_t>((29 + 97 * s + 11 * i) % n_vocab));
    return p;
}

int32_t argmax(const float* v, int64_t n) {
    int32_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = static_cast<int32_t>(i);
    return best;
}

// Logits after the prompt and after each greedy step, for sequence s decoded alone.
std::vector<std::vector<float>> alone(const Model& m, int s) {
    ContextParams cp;
    cp.n_ctx = 128;
    cp.n_threads = kThreads;
    runtime::Context ctx(m, cp);
    const int64_t nv = m.n_vocab();
    const std::vector<int32_t> p = prompt(s, nv);
    Batch b;
    for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), 0, i + 1 == p.size());
    ctx.decode(b);
    std::vector<std::vector<float>> out;
    int32_t pos = static_cast<int32_t>(p.size());
    for (int step = 0;; ++step) {
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

TEST(KernelsFloatBatchModel, F16ModelsBatchedEqualAlone) {
    for (const char* name : {"tiny-qwen3-bpe-f16.gguf", "tiny-llama-spm-f16.gguf"}) {
        SCOPED_TRACE(name);
        auto m = Model::load(std::string(HEARTH_SHARED_DIR) + "/models/" + name);
        const int64_t nv = m->n_vocab();
        std::vector<std::vector<std::vector<float>>> ref;
        for (int s = 0; s < kSeqs; ++s) ref.push_back(alone(*m, s));

        ContextParams cp;
        cp.n_ctx = 256;
        cp.n_threads = kThreads;
        cp.n_seq_max = kSeqs;
        runtime::Context ctx(*m, cp);
        Batch b;
        std::vector<size_t> last(kSeqs);
        std::vector<int32_t> pos(kSeqs);
        for (int s = 0; s < kSeqs; ++s) {
            const std::vector<int32_t> p = prompt(s, nv);
            for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), s, i + 1 == p.size());
            last[s] = b.size() - 1;
            pos[s] = static_cast<int32_t>(p.size());
        }
        ctx.decode(b);
        for (int step = 0;; ++step) {
            std::vector<int32_t> next(kSeqs);
            for (int s = 0; s < kSeqs; ++s) {
                const float* l = ctx.logits(last[s]);
                int diff = 0;
                for (int64_t i = 0; i < nv; ++i) diff += std::memcmp(&l[i], &ref[s][step][i], sizeof(float)) != 0;
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
}

}  // namespace
}  // namespace hearth
