// The C API's model/context calls (include/hearth/hearth.h) under bad arguments: every misuse must
// come back as a status code with a message, never a crash or an out-of-bounds read (this file is
// part of the sanitizer sweep: run it in the ASan/UBSan build, build-asan).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hearth/hearth.h"

namespace {

const std::string kModel = std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-Q8_0.gguf";

class RegressionsCApiModel : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_EQ(hearth_model_load(kModel.c_str(), 1, &model_), HEARTH_OK) << hearth_last_error(); }
    void TearDown() override {
        hearth_context_free(ctx_);
        hearth_model_free(model_);
    }
    hearth_context* make_context(int64_t n_ctx, int32_t n_batch, int32_t n_seq_max) {
        hearth_context_params p;
        hearth_context_default_params(&p);
        p.n_ctx = n_ctx;
        p.n_batch = n_batch;
        p.n_ubatch = n_batch;
        p.n_threads = 2;
        p.n_seq_max = n_seq_max;
        hearth_context* c = nullptr;
        EXPECT_EQ(hearth_context_new(model_, &p, &c), HEARTH_OK) << hearth_last_error();
        return c;
    }
    hearth_model* model_ = nullptr;
    hearth_context* ctx_ = nullptr;
};

TEST(RegressionsCApiModelLoad, NullAndMissingPathsAreErrors) {
    hearth_model* m = reinterpret_cast<hearth_model*>(uintptr_t(1));
    EXPECT_EQ(hearth_model_load(nullptr, 1, &m), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(hearth_last_error()), "");
    EXPECT_NE(hearth_model_load("/nonexistent/dir/model.gguf", 1, &m), HEARTH_OK);
    EXPECT_EQ(m, nullptr);
    EXPECT_EQ(hearth_model_n_vocab(nullptr), 0);
    hearth_model_free(nullptr);
    hearth_context_free(nullptr);
    hearth_context_default_params(nullptr);
}

TEST_F(RegressionsCApiModel, TokenizeReportsTheNeededCapacity) {
    const std::string text = "hello world, hello again";
    size_t n = 0;
    EXPECT_EQ(hearth_tokenize(model_, text.data(), text.size(), 1, 0, nullptr, 0, &n), HEARTH_ERR_INVALID_ARGUMENT);
    ASSERT_GT(n, 1u);
    std::vector<int32_t> ids(n - 1, -7);
    size_t n2 = 0;
    EXPECT_EQ(hearth_tokenize(model_, text.data(), text.size(), 1, 0, ids.data(), ids.size(), &n2), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(n2, n);
    for (int32_t id : ids) EXPECT_EQ(id, -7);  // nothing written past or into a too-small array
    ids.assign(n, -1);
    ASSERT_EQ(hearth_tokenize(model_, text.data(), text.size(), 1, 0, ids.data(), ids.size(), &n2), HEARTH_OK);
    for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < hearth_model_n_vocab(model_));
    EXPECT_EQ(hearth_tokenize(model_, nullptr, 0, 0, 0, nullptr, 0, &n2), HEARTH_OK);
    EXPECT_EQ(hearth_tokenize(model_, nullptr, 3, 0, 0, ids.data(), ids.size(), &n2), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_tokenize(nullptr, "a", 1, 0, 0, ids.data(), ids.size(), &n2), HEARTH_ERR_INVALID_ARGUMENT);
}

TEST_F(RegressionsCApiModel, BadContextParamsAreErrors) {
    hearth_context_params p;
    hearth_context_default_params(&p);
    hearth_context* c = nullptr;
    p.n_ctx = -1;
    EXPECT_EQ(hearth_context_new(model_, &p, &c), HEARTH_ERR_INVALID_ARGUMENT);
    hearth_context_default_params(&p);
    p.n_batch = 0;
    EXPECT_EQ(hearth_context_new(model_, &p, &c), HEARTH_ERR_INVALID_ARGUMENT);
    hearth_context_default_params(&p);
    p.n_seq_max = 0;
    EXPECT_EQ(hearth_context_new(model_, &p, &c), HEARTH_ERR_INVALID_ARGUMENT);
    p.n_seq_max = 1 << 20;
    EXPECT_EQ(hearth_context_new(model_, &p, &c), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(c, nullptr);
    EXPECT_EQ(hearth_context_new(nullptr, &p, &c), HEARTH_ERR_INVALID_ARGUMENT);
}

TEST_F(RegressionsCApiModel, BadBatchesFailWithoutKeepingStaleLogits) {
    ctx_ = make_context(64, 8, 2);
    ASSERT_NE(ctx_, nullptr);
    const int32_t n_vocab = int32_t(hearth_model_n_vocab(model_));
    const int32_t toks[3] = {1, 2, 3}, pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0};
    ASSERT_EQ(hearth_decode(ctx_, toks, pos, seq, nullptr, 3), HEARTH_OK) << hearth_last_error();
    const float* lg = nullptr;
    ASSERT_EQ(hearth_get_logits(ctx_, 2, &lg), HEARTH_OK);
    for (int32_t i = 0; i < n_vocab; ++i) ASSERT_TRUE(std::isfinite(lg[i]));
    EXPECT_EQ(hearth_get_logits(ctx_, 0, &lg), HEARTH_ERR_INVALID_ARGUMENT);  // not requested
    EXPECT_EQ(lg, nullptr);
    EXPECT_EQ(hearth_get_logits(ctx_, 3, &lg), HEARTH_ERR_INVALID_ARGUMENT);  // beyond the batch
    EXPECT_EQ(hearth_get_logits(ctx_, size_t(-1), &lg), HEARTH_ERR_INVALID_ARGUMENT);

    const int32_t bad_tok[2] = {-1, n_vocab}, p3[1] = {3}, bad_pos[1] = {-1}, bad_seq[2] = {2, -1};
    EXPECT_EQ(hearth_decode(ctx_, bad_tok, p3, nullptr, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_decode(ctx_, bad_tok + 1, p3, nullptr, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_decode(ctx_, toks, bad_pos, nullptr, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_decode(ctx_, toks, p3, bad_seq, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_decode(ctx_, toks, p3, bad_seq + 1, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_decode(ctx_, toks, p3, nullptr, nullptr, 0), HEARTH_ERR_INVALID_ARGUMENT);  // empty batch
    EXPECT_EQ(hearth_decode(ctx_, nullptr, p3, nullptr, nullptr, 1), HEARTH_ERR_INVALID_ARGUMENT);
    std::vector<int32_t> many(9, 1), many_pos(9);
    for (int i = 0; i < 9; ++i) many_pos[size_t(i)] = 10 + i;
    EXPECT_EQ(hearth_decode(ctx_, many.data(), many_pos.data(), nullptr, nullptr, 9), HEARTH_ERR_INVALID_ARGUMENT);  // > n_batch
    EXPECT_EQ(hearth_get_logits(ctx_, 2, &lg), HEARTH_ERR_INVALID_ARGUMENT);  // the failed decode left none
}

TEST_F(RegressionsCApiModel, KvRemoveAcceptsAnyRangeAndAFullCacheIsAnError) {
    ctx_ = make_context(32, 16, 2);
    ASSERT_NE(ctx_, nullptr);
    std::vector<int32_t> toks(16, 5), pos(16);
    for (int i = 0; i < 16; ++i) pos[size_t(i)] = i;
    ASSERT_EQ(hearth_decode(ctx_, toks.data(), pos.data(), nullptr, nullptr, 16), HEARTH_OK) << hearth_last_error();
    for (int i = 0; i < 16; ++i) pos[size_t(i)] = 16 + i;
    ASSERT_EQ(hearth_decode(ctx_, toks.data(), pos.data(), nullptr, nullptr, 16), HEARTH_OK) << hearth_last_error();
    const int32_t t1[1] = {5}, p1[1] = {32};
    EXPECT_EQ(hearth_decode(ctx_, t1, p1, nullptr, nullptr, 1), HEARTH_ERR_OUT_OF_MEMORY);  // 32 cells in use
    EXPECT_EQ(hearth_kv_remove(ctx_, 99, 0, -1), HEARTH_OK);   // unknown sequence: nothing to remove
    EXPECT_EQ(hearth_kv_remove(ctx_, 0, 20, 10), HEARTH_OK);   // empty range
    EXPECT_EQ(hearth_kv_remove(ctx_, 0, -5, 4), HEARTH_OK);    // [0, 4)
    EXPECT_EQ(hearth_kv_remove(ctx_, std::numeric_limits<int32_t>::min(), 0, -1), HEARTH_OK);  // "all"
    const int32_t far_pos[1] = {std::numeric_limits<int32_t>::max()};
    EXPECT_EQ(hearth_decode(ctx_, t1, far_pos, nullptr, nullptr, 1), HEARTH_OK) << hearth_last_error();
    const float* lg = nullptr;
    ASSERT_EQ(hearth_get_logits(ctx_, 0, &lg), HEARTH_OK);
    EXPECT_TRUE(std::isfinite(lg[0]));
    EXPECT_EQ(hearth_kv_remove(nullptr, 0, 0, -1), HEARTH_ERR_INVALID_ARGUMENT);
}

}  // namespace
