// The default model (Gemma 3 270M Q4_K_M, models/gemma-3-270m-q4_k_m.gguf or /tmp/gm/g.gguf) must
// continue sensibly with greedy decoding; skipped when the file is absent (scripts/fetch_model).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
namespace {

std::string find_model() {
    for (const std::string& p : {std::string(HEARTH_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf", std::string("/tmp/gm/g.gguf")})
        if (std::filesystem::exists(p)) return p;
    return "";
}

// Greedy continuation of `prompt` (n tokens) and the 5 best first tokens.
std::string greedy(const Model& m, Context& ctx, const std::string& prompt, int n, std::vector<int32_t>* top5) {
    ctx.kv_clear();
    const auto toks = m.tokenizer().encode(prompt, true, true);
    Batch b;
    for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], int32_t(i), 0, i + 1 == toks.size());
    ctx.decode(b);
    size_t li = toks.size() - 1;
    std::string out;
    for (int k = 0; k < n; ++k) {
        const float* l = ctx.logits(li);
        if (k == 0 && top5) {
            std::vector<int32_t> idx(size_t(m.n_vocab()));
            for (size_t i = 0; i < idx.size(); ++i) idx[i] = int32_t(i);
            std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [&](int32_t a, int32_t c) { return l[a] > l[c]; });
            top5->assign(idx.begin(), idx.begin() + 5);
        }
        const int32_t id = int32_t(std::max_element(l, l + m.n_vocab()) - l);
        if (m.tokenizer().is_eog(id)) break;
        out += m.tokenizer().token_to_piece(id);
        Batch s;
        s.add(id, int32_t(toks.size()) + k, 0, true);
        ctx.decode(s);
        li = 0;
    }
    return out;
}

TEST(ModelGemmaReal, CapitalOfFrance) {
    const std::string path = find_model();
    if (path.empty()) GTEST_SKIP() << "default model not present (run scripts/fetch_model)";
    auto m = Model::load(path);
    ASSERT_EQ(m->architecture(), "gemma3");
    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_threads = 2;
    Context ctx(*m, cp);
    const int32_t paris = m->tokenizer().find_token("\xE2\x96\x81Paris").value_or(-1);
    ASSERT_GE(paris, 0);

    // Base model: " the capital of the country of France..." with " Paris" among the best first tokens.
    std::vector<int32_t> top5;
    const std::string cont = greedy(*m, ctx, "The capital of France is", 8, &top5);
    std::printf("[gemma] 'The capital of France is' ->%s\n", cont.c_str());
    EXPECT_NE(std::find(top5.begin(), top5.end(), paris), top5.end());
    EXPECT_NE(cont.find("capital"), std::string::npos) << cont;

    // Asked directly, greedy answers Paris.
    const std::string ans = greedy(*m, ctx, "Question: What is the capital of France?\nAnswer:", 3, nullptr);
    std::printf("[gemma] Q/A ->%s\n", ans.c_str());
    EXPECT_EQ(ans.rfind(" Paris", 0), 0u) << ans;
}

}  // namespace
}  // namespace hearth
