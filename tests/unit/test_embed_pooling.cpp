// Embedding tests: pooling and normalisation math, and the Embedder on the shared tiny qwen3 model
// (packing independence, pooling consistency, long causal inputs over several decodes, errors).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/model.h"
#include "runtime/batch.h"
#include "runtime/embedding.h"
#include "runtime/pooling.h"
#include "runtime/runtime_context.h"

namespace hearth {
namespace {

const std::string kQwen = std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-f16.gguf";

TEST(EmbedPooling, PoolsRows) {
    // 3 tokens x 2 dims
    const std::vector<float> h = {1, 2, 3, 4, 5, 9};
    EXPECT_EQ(pool(h.data(), 3, 2, PoolingType::Mean), (std::vector<float>{3, 5}));
    EXPECT_EQ(pool(h.data(), 3, 2, PoolingType::Cls), (std::vector<float>{1, 2}));
    EXPECT_EQ(pool(h.data(), 3, 2, PoolingType::Last), (std::vector<float>{5, 9}));
    EXPECT_EQ(pool(h.data(), 3, 2, PoolingType::None), h);
    EXPECT_THROW(pool(h.data(), 0, 2, PoolingType::Mean), Error);
    EXPECT_THROW(pool(h.data(), 3, 2, PoolingType::Rank), Error);
}

TEST(EmbedPooling, ParsesNames) {
    for (const char* n : {"none", "mean", "cls", "last", "rank"}) EXPECT_STREQ(pooling_name(parse_pooling(n)), n);
    EXPECT_THROW(parse_pooling("avg"), Error);
}

TEST(EmbedPooling, Normalizes) {
    std::vector<float> v = {3, -4};
    normalize(v.data(), 2, 2);
    EXPECT_FLOAT_EQ(v[0], 0.6f);
    EXPECT_FLOAT_EQ(v[1], -0.8f);
    v = {3, -4};
    normalize(v.data(), 2, 1);
    EXPECT_FLOAT_EQ(v[0], 3.0f / 7);
    v = {3, -4};
    normalize(v.data(), 2, 0);
    EXPECT_FLOAT_EQ(v[1], -32760.0f);
    v = {3, -4};
    normalize(v.data(), 2, -1);
    EXPECT_FLOAT_EQ(v[0], 3.0f);
    v = {3, -4};
    normalize(v.data(), 2, 3);
    EXPECT_NEAR(v[0], 3.0 / std::cbrt(27.0 + 64.0), 1e-6);
    v = {0, 0};
    normalize(v.data(), 2, 2);
    EXPECT_EQ(v[0], 0.0f);
    const float a[] = {1, 0}, b[] = {1, 1};
    EXPECT_NEAR(cosine(a, b, 2), std::sqrt(0.5), 1e-9);
}

class EmbedQwen : public ::testing::Test {
protected:
    static void SetUpTestSuite() { model_ = Model::load(kQwen).release(); }
    static void TearDownTestSuite() {
        delete model_;
        model_ = nullptr;
    }
    static EmbedParams params(PoolingType p) {
        EmbedParams ep;
        ep.pooling = p;
        ep.n_threads = 2;
        ep.n_ctx = 512;
        return ep;
    }
    static Model* model_;
};
Model* EmbedQwen::model_ = nullptr;

TEST_F(EmbedQwen, DefaultPoolingIsLastForCausal) {
    Embedder e(*model_, params(PoolingType::Unspecified));
    EXPECT_EQ(e.pooling(), PoolingType::Last);
    EXPECT_EQ(e.n_embd(), 256);
}

TEST_F(EmbedQwen, PackingDoesNotChangeVectors) {
    Embedder e(*model_, params(PoolingType::Mean));
    const std::vector<std::string> texts = {"The cat sat on the mat.", "Quantum chromodynamics", "a", "Hello, world! 123"};
    std::vector<std::vector<int32_t>> toks;
    for (const auto& t : texts) toks.push_back(e.tokenize(t));
    const auto together = e.embed(toks);
    ASSERT_EQ(together.size(), texts.size());
    for (size_t i = 0; i < toks.size(); ++i) {
        const auto alone = e.embed({toks[i]});
        ASSERT_EQ(alone[0].size(), 256u);
        EXPECT_GT(cosine(alone[0].data(), together[i].data(), 256), 0.99999) << texts[i];
        double n2 = 0;
        for (float x : together[i]) n2 += double(x) * x;
        EXPECT_NEAR(n2, 1.0, 1e-5);
    }
    EXPECT_LT(cosine(together[0].data(), together[1].data(), 256), 0.9999);
}

TEST_F(EmbedQwen, PoolingsAgreeWithPerTokenRows) {
    Embedder none(*model_, params(PoolingType::None));
    EmbedParams mp = params(PoolingType::Mean);
    mp.normalize = -1;
    Embedder mean(*model_, mp);
    EmbedParams lp = params(PoolingType::Last);
    lp.normalize = -1;
    Embedder last(*model_, lp);
    const auto toks = none.tokenize("one two three four five");
    const size_t n = toks.size();
    const auto rows = none.embed({toks})[0];
    ASSERT_EQ(rows.size(), n * 256);
    const auto m = mean.embed({toks})[0];
    const auto l = last.embed({toks})[0];
    for (size_t j = 0; j < 256; ++j) {
        double acc = 0;
        for (size_t t = 0; t < n; ++t) acc += rows[t * 256 + j];
        EXPECT_NEAR(m[j], acc / double(n), 1e-4);
        EXPECT_NEAR(l[j], rows[(n - 1) * 256 + j], 1e-4);
    }
}

TEST_F(EmbedQwen, MatchesGenerationContextHiddenState) {
    // The embeddings-only graph (no LM head) must give the hidden state a full context keeps.
    Embedder e(*model_, params(PoolingType::Last));
    const auto toks = e.tokenize("Embeddings are the final hidden state");
    EmbedParams raw = params(PoolingType::Last);
    raw.normalize = -1;
    Embedder er(*model_, raw);
    const auto v = er.embed({toks})[0];
    ContextParams cp;
    cp.n_ctx = 256;
    cp.n_threads = 2;
    cp.embeddings = true;
    runtime::Context ctx(*model_, cp);
    Batch b;
    for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], int32_t(i), 0, i + 1 == toks.size());
    ctx.decode(b);
    const float* h = ctx.embeddings(toks.size() - 1);
    for (size_t j = 0; j < 256; ++j) EXPECT_NEAR(v[j], h[j], 1e-4);
}

TEST_F(EmbedQwen, LongCausalInputSpansSeveralDecodes) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "word" + std::to_string(i) + " ";
    Embedder big(*model_, params(PoolingType::Mean));
    EmbedParams sp = params(PoolingType::Mean);
    sp.n_batch = 16;
    sp.n_ubatch = 8;
    Embedder small(*model_, sp);
    const auto toks = big.tokenize(text);
    ASSERT_GT(toks.size(), 32u);
    const auto a = big.embed({toks, big.tokenize("short")});
    const auto b = small.embed({toks, small.tokenize("short")});
    EXPECT_GT(cosine(a[0].data(), b[0].data(), 256), 0.99999);
    EXPECT_GT(cosine(a[1].data(), b[1].data(), 256), 0.99999);
}

TEST_F(EmbedQwen, RejectsBadInputs) {
    Embedder e(*model_, params(PoolingType::Mean));
    EXPECT_THROW(e.embed({{}}), Error);
    EXPECT_THROW(e.embed({{1, 2, 999999}}), Error);
    EXPECT_THROW(e.embed({std::vector<int32_t>(600, 1)}), Error);  // longer than n_ctx 512
    EXPECT_TRUE(Embedder(*model_, params(PoolingType::Rank)).rank_head()->yes_no());  // a causal LM judges yes/no
}

}  // namespace
}  // namespace hearth
