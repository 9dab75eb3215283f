// Reranking and nomic-bert tests: the rank head's math and checks on hand-made GGUF heads, pair
// tokenization with token types, the Embedder's rank pooling on a synthetic bert cross-encoder
// (packing independence, token types matter, errors), token-type validation in decode, and the
// synthetic nomic-bert encoder (loads, batches independently, positions matter).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "runtime/batch.h"
#include "runtime/embedding.h"
#include "runtime/rank_head.h"
#include "runtime/runtime_context.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
namespace {

const std::string kBertVocab = std::string(HEARTH_SHARED_DIR) + "/vocab/ggml-vocab-bert-bge.gguf";

// A GGUF holding only the given F32 tensors (name, ggml shape, values), opened from memory.
std::unique_ptr<gguf::File> head_file(const std::vector<std::tuple<std::string, std::vector<int64_t>, std::vector<float>>>& ts) {
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::str("bert"));
    for (const auto& [name, shape, v] : ts) w.add_tensor(name, DType::F32, shape, v.data(), v.size() * sizeof(float));
    const std::vector<uint8_t> bytes = w.to_bytes();
    return gguf::File::from_memory(bytes.data(), bytes.size());  // copies the bytes
}

TEST(EmbedRankHead, PoolerTanhThenClassifier) {
    // E = 2: cls.weight rows (1, 0), (1, 1); cls.bias (0, -1); cls.output.weight row (2, -1), bias 0.5.
    auto f = head_file({{"cls.weight", {2, 2}, {1, 0, 1, 1}},
                        {"cls.bias", {2}, {0, -1}},
                        {"cls.output.weight", {2, 1}, {2, -1}},
                        {"cls.output.bias", {1}, {0.5f}}});
    ASSERT_TRUE(RankHead::present(*f));
    const RankHead h = RankHead::load(*f, 2);
    EXPECT_EQ(h.n_out(), 1);
    const float x[2] = {0.3f, -0.2f};
    const double p0 = std::tanh(0.3), p1 = std::tanh(0.3 - 0.2 - 1.0);
    EXPECT_NEAR(h.apply(x)[0], 2 * p0 - p1 + 0.5, 1e-6);
}

TEST(EmbedRankHead, SingleLayerHeadsAreLinear) {
    const float x[2] = {0.5f, 2.0f};
    auto cls_only = head_file({{"cls.weight", {2, 1}, {3, -1}}, {"cls.bias", {1}, {0.25f}}});
    EXPECT_NEAR(RankHead::load(*cls_only, 2).apply(x)[0], 1.5 - 2.0 + 0.25, 1e-6);
    auto out_only = head_file({{"cls.output.weight", {2, 2}, {1, 1, 0, 1}}});  // two logits, no bias
    const RankHead h = RankHead::load(*out_only, 2);
    ASSERT_EQ(h.n_out(), 2);
    EXPECT_NEAR(h.apply(x)[0], 2.5, 1e-6);
    EXPECT_NEAR(h.apply(x)[1], 2.0, 1e-6);
}

TEST(EmbedRankHead, RejectsMissingOrInconsistentHeads) {
    auto none = head_file({{"other.weight", {2}, {1, 2}}});
    EXPECT_FALSE(RankHead::present(*none));
    try {
        RankHead::load(*none, 2);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
        EXPECT_NE(std::string(e.what()).find("cls.weight"), std::string::npos);
    }
    auto wrong_in = head_file({{"cls.weight", {3, 1}, {1, 2, 3}}});
    EXPECT_THROW(RankHead::load(*wrong_in, 2), Error);
    auto mismatch = head_file({{"cls.weight", {2, 2}, {1, 0, 0, 1}}, {"cls.output.weight", {3, 1}, {1, 1, 1}}});
    EXPECT_THROW(RankHead::load(*mismatch, 2), Error);
    auto bad_bias = head_file({{"cls.weight", {2, 1}, {1, 1}}, {"cls.bias", {2}, {0, 0}}});
    EXPECT_THROW(RankHead::load(*bad_bias, 2), Error);
}

class EmbedRankModel : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        SyntheticSpec s;
        s.vocab_path = kBertVocab;
        s.n_embd = 32;
        s.n_head = s.n_head_kv = 4;
        s.head_dim = 8;
        s.n_ff = 64;
        s.n_ctx_train = 128;
        s.type = DType::F32;
        s.rank_head = true;
        s.arch = "bert";
        ce_path_ = testing::TempDir() + "/rank_ce.gguf";
        write_synthetic_model(s, ce_path_);
        s.arch = "nomic-bert";
        s.rank_head = false;
        s.n_ctx_train = 512;
        nomic_path_ = testing::TempDir() + "/rank_nomic.gguf";
        write_synthetic_model(s, nomic_path_);
        ce_ = Model::load(ce_path_).release();
        nomic_ = Model::load(nomic_path_).release();
    }
    static void TearDownTestSuite() {
        delete ce_;
        delete nomic_;
    }
    static EmbedParams params(PoolingType p, int n_seq_max = 16) {
        EmbedParams e;
        e.pooling = p;
        e.n_threads = 2;
        e.n_seq_max = n_seq_max;
        return e;
    }
    static inline std::string ce_path_, nomic_path_;
    static inline Model* ce_ = nullptr;
    static inline Model* nomic_ = nullptr;
};

TEST_F(EmbedRankModel, PairTokensAndTypes) {
    const Tokenizer& tok = ce_->tokenizer();
    const RankPair p = tokenize_pair(*ce_, "what is a cat", "a cat is an animal");
    ASSERT_EQ(p.tokens.size(), p.types.size());
    const auto q = tok.encode("what is a cat", true, false);  // [CLS] ... [SEP]
    const auto d = tok.encode("a cat is an animal", false, false);
    ASSERT_EQ(p.tokens.size(), q.size() + d.size() + 1);
    EXPECT_EQ(p.tokens.front(), tok.cls());
    EXPECT_EQ(p.tokens[q.size() - 1], tok.sep());
    EXPECT_EQ(p.tokens.back(), tok.sep());
    for (size_t i = 0; i < p.types.size(); ++i) EXPECT_EQ(p.types[i], i < q.size() ? 0 : 1) << i;
    // nomic-bert also has a 2-row token-type table
    EXPECT_EQ(tokenize_pair(*nomic_, "a", "b").types.back(), 1);
}

TEST_F(EmbedRankModel, ScoresDoNotDependOnPacking) {
    const std::vector<std::string> docs = {"paris is the capital of france", "the cat sat on the mat", "berlin", "a b c d e f g",
                                           "france is in europe"};
    Embedder packed(*ce_, params(PoolingType::Unspecified));  // the file says rank
    ASSERT_EQ(packed.pooling(), PoolingType::Rank);
    ASSERT_NE(packed.rank_head(), nullptr);
    size_t n_tokens = 0;
    const auto a = packed.rank("what is the capital of france", docs, &n_tokens);
    Embedder single(*ce_, params(PoolingType::Rank, 1));
    const auto b = single.rank("what is the capital of france", docs);
    ASSERT_EQ(a.size(), docs.size());
    size_t expect_tokens = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
        EXPECT_NEAR(a[i], b[i], 1e-5) << i;
        expect_tokens += tokenize_pair(*ce_, "what is the capital of france", docs[i]).tokens.size();
    }
    EXPECT_EQ(n_tokens, expect_tokens);
    EXPECT_NE(a[0], a[1]);
}

TEST_F(EmbedRankModel, TokenTypesChangeTheScore) {
    Embedder e(*ce_, params(PoolingType::Rank));
    const RankPair p = tokenize_pair(*ce_, "what is a cat", "a cat is an animal");
    const auto typed = e.embed({p.tokens}, {p.types});
    const auto untyped = e.embed({p.tokens});
    ASSERT_EQ(typed[0].size(), 1u);
    EXPECT_GT(std::fabs(typed[0][0] - untyped[0][0]), 1e-4);
    EXPECT_NEAR(e.rank("what is a cat", {"a cat is an animal"})[0], typed[0][0], 1e-6);
}

TEST_F(EmbedRankModel, RejectsBadInputs) {
    Embedder e(*ce_, params(PoolingType::Rank));
    const RankPair p = tokenize_pair(*ce_, "q", "d");
    EXPECT_THROW(e.embed({p.tokens}, {{0}}), Error);                     // types shorter than tokens
    EXPECT_THROW(e.embed({p.tokens, p.tokens}, {p.types}), Error);       // one types list for two inputs
    std::string long_doc;
    for (int i = 0; i < 300; ++i) long_doc += "cat ";
    EXPECT_THROW(e.rank("q", {long_doc}), Error);                        // longer than the context (128)
    EmbedParams wide = params(PoolingType::Rank);
    wide.n_ctx = 1024;
    wide.n_batch = wide.n_ubatch = 1024;
    try {  // a larger context does not make more absolute positions
        Embedder(*ce_, wide).rank("q", {long_doc});
        ADD_FAILURE() << "no error for an input longer than the position table";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("128 positions"), std::string::npos) << e.what();
    }
    Embedder mean(*ce_, params(PoolingType::Mean));
    EXPECT_THROW(mean.rank("q", {"d"}), Error);                          // not a rank embedder
    EXPECT_THROW(Embedder(*nomic_, params(PoolingType::Rank)), Error);   // no rank head
}

TEST_F(EmbedRankModel, DecodeValidatesTokenTypes) {
    ContextParams cp;
    cp.embeddings = cp.embeddings_only = true;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    runtime::Context ctx(*ce_, cp);
    Batch b;
    b.add(101, 0, 0, true);
    b.add(102, 1, 0, false);
    b.types = {0, 2};  // the table has 2 rows
    EXPECT_THROW(ctx.decode(b), Error);
    b.types = {0};
    EXPECT_THROW(ctx.decode(b), Error);
    b.types = {0, 1};
    EXPECT_NO_THROW(ctx.decode(b));
}

TEST_F(EmbedRankModel, NomicBertBatchesIndependentlyAndUsesPositions) {
    EXPECT_FALSE(nomic_->arch().causal);
    Embedder e(*nomic_, params(PoolingType::Mean));
    const std::vector<std::string> texts = {"red green blue", "blue green red", "search_query: hello world"};
    std::vector<std::vector<int32_t>> toks;
    for (const auto& t : texts) toks.push_back(e.tokenize(t));
    const auto together = e.embed(toks);
    for (size_t i = 0; i < toks.size(); ++i) {
        const auto alone = e.embed({toks[i]});
        for (size_t j = 0; j < alone[0].size(); ++j) ASSERT_NEAR(together[i][j], alone[0][j], 1e-5);
    }
    // Same tokens in another order: only the rotary positions tell them apart.
    double diff = 0;
    for (size_t j = 0; j < together[0].size(); ++j) diff = std::max(diff, double(std::fabs(together[0][j] - together[1][j])));
    EXPECT_GT(diff, 1e-3);
}

// A copy of the GGUF at `path` without tensor `drop`, and with `reshape` (if named) declared as
// [ne0, ne1 - 1] over its first rows: a missing or mis-shaped tensor.
std::string edited_copy(const std::string& path, const std::string& drop, const std::string& reshape, const std::string& out) {
    auto f = gguf::File::open(path);
    gguf::Writer w;
    for (const auto& kv : f->kvs()) w.set(kv.key, kv.value);
    for (const auto& t : f->tensors()) {
        if (t.name == drop) continue;
        std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
        if (t.name == reshape) shape[1] -= 1;
        const size_t n = dtype_row_bytes(t.type, shape[0]) * size_t(shape.size() > 1 ? shape[1] : 1);
        w.add_tensor(t.name, t.type, shape, f->tensor_data(t), n);
    }
    w.write(out);
    return out;
}

TEST_F(EmbedRankModel, NomicBertRejectsMissingOrMisshapedTensors) {
    const std::string dir = testing::TempDir();
    for (const auto& [drop, reshape] : std::vector<std::pair<std::string, std::string>>{
             {"blk.1.ffn_gate.weight", ""}, {"token_types.weight", ""}, {"", "blk.0.attn_qkv.weight"}, {"", "token_embd.weight"}}) {
        const std::string p = edited_copy(nomic_path_, drop, reshape, dir + "/nomic_bad.gguf");
        try {
            Model::load(p);
            ADD_FAILURE() << "loaded with " << drop << reshape;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidFile) << e.what();
            EXPECT_NE(std::string(e.what()).find(drop.empty() ? reshape : drop), std::string::npos) << e.what();
        }
    }
    // The unedited copy loads (the helper itself is sound).
    EXPECT_NO_THROW(Model::load(edited_copy(nomic_path_, "", "", dir + "/nomic_ok.gguf")));
}

// A causal LM without cls tensors reranks with its LM head: score = logit("yes") - logit("no") at the
// last token of the judgement prompt, the same numbers a generating context computes.
TEST(EmbedRankYesNo, CausalModelScoresAreYesMinusNoLogits) {
    const auto model = Model::load(std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-f16.gguf");
    ASSERT_TRUE(RankHead::available(*model));
    EmbedParams ep;
    ep.pooling = PoolingType::Rank;
    ep.n_threads = 2;
    ep.n_ctx = 512;
    Embedder e(*model, ep);
    ASSERT_TRUE(e.rank_head()->yes_no());
    const std::vector<std::string> docs = {"Paris is the capital of France.", "The cat sat on the mat."};
    const auto scores = e.rank("What is the capital of France?", docs);
    const int32_t yes = model->tokenizer().encode("yes", false, false).at(0), no = model->tokenizer().encode("no", false, false).at(0);
    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_threads = 2;
    runtime::Context ctx(*model, cp);
    for (size_t i = 0; i < docs.size(); ++i) {
        const RankPair p = tokenize_pair(*model, "What is the capital of France?", docs[i], true);
        Batch b;
        for (size_t j = 0; j < p.tokens.size(); ++j) b.add(p.tokens[j], int32_t(j), 0, j + 1 == p.tokens.size());
        ctx.kv_clear();
        ctx.decode(b);
        const float* l = ctx.logits(p.tokens.size() - 1);
        EXPECT_NEAR(scores[i], l[yes] - l[no], 2e-2 * std::max(1.0f, std::fabs(l[yes] - l[no]))) << i;
    }
    EXPECT_NE(scores[0], scores[1]);
}

}  // namespace
}  // namespace hearth
