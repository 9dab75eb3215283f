// Tests of the GGUF part of the C API (include/hearth/hearth.h): open/close, counts, typed metadata
// lookups, tensor info with data pointers, and status codes + hearth_last_error() on bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "hearth/hearth.h"

namespace {

const std::string kModel = std::string(HEARTH_SHARED_DIR) + "/models/tiny-llama-spm-Q4_K_M.gguf";

TEST(GgufCApi, OpenAndInspect) {
    hearth_gguf* f = nullptr;
    ASSERT_EQ(hearth_gguf_open(kModel.c_str(), &f), HEARTH_OK) << hearth_last_error();
    ASSERT_NE(f, nullptr);
    EXPECT_STREQ(hearth_gguf_architecture(f), "llama");
    EXPECT_EQ(hearth_gguf_version(f), 3u);
    EXPECT_GT(hearth_gguf_kv_count(f), 10);
    EXPECT_GT(hearth_gguf_tensor_count(f), 30);
    EXPECT_NE(hearth_gguf_kv_key(f, 0), nullptr);
    EXPECT_EQ(hearth_gguf_kv_key(f, hearth_gguf_kv_count(f)), nullptr);
    EXPECT_EQ(hearth_gguf_kv_key(f, -1), nullptr);

    int64_t blocks = 0;
    EXPECT_EQ(hearth_gguf_get_int(f, "llama.block_count", &blocks), HEARTH_OK);
    EXPECT_EQ(blocks, 4);
    double base = 0;
    EXPECT_EQ(hearth_gguf_get_float(f, "llama.rope.freq_base", &base), HEARTH_OK);
    EXPECT_DOUBLE_EQ(base, 10000.0);
    const char* model = nullptr;
    EXPECT_EQ(hearth_gguf_get_string(f, "tokenizer.ggml.model", &model), HEARTH_OK);
    EXPECT_STREQ(model, "llama");
    EXPECT_EQ(hearth_gguf_get_int(f, "no.such.key", &blocks), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(hearth_last_error()).find("'no.such.key' not found"), std::string::npos);
    EXPECT_EQ(hearth_gguf_get_int(f, "general.architecture", &blocks), HEARTH_ERR_INVALID_FILE);
    EXPECT_NE(std::string(hearth_last_error()).find("general.architecture"), std::string::npos);
    EXPECT_EQ(hearth_gguf_get_string(f, "llama.block_count", &model), HEARTH_ERR_INVALID_FILE);

    const int64_t idx = hearth_gguf_find_tensor(f, "token_embd.weight");
    ASSERT_GE(idx, 0);
    hearth_gguf_tensor t{};
    ASSERT_EQ(hearth_gguf_tensor_info(f, idx, &t), HEARTH_OK);
    EXPECT_STREQ(t.name, "token_embd.weight");
    EXPECT_EQ(t.n_dims, 2u);
    EXPECT_EQ(t.ne[0], 256);
    EXPECT_EQ(t.ne[1], 32000);
    EXPECT_NE(t.data, nullptr);
    EXPECT_GT(t.nbytes, 0u);
    EXPECT_NE(t.type_name, nullptr);
    EXPECT_EQ(hearth_gguf_find_tensor(f, "nope"), -1);
    EXPECT_EQ(hearth_gguf_tensor_info(f, 1 << 20, &t), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(hearth_gguf_mlock_warning(f), "");
    hearth_gguf_close(f);
}

TEST(GgufCApi, OpenExWithoutMmap) {
    hearth_gguf* f = nullptr;
    ASSERT_EQ(hearth_gguf_open_ex(kModel.c_str(), 0, 0, &f), HEARTH_OK) << hearth_last_error();
    EXPECT_GT(hearth_gguf_tensor_count(f), 30);
    hearth_gguf_close(f);
}

TEST(GgufCApi, BadInput) {
    hearth_gguf* f = reinterpret_cast<hearth_gguf*>(0x1);
    EXPECT_EQ(hearth_gguf_open(nullptr, &f), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(hearth_gguf_open("/nonexistent.gguf", &f), HEARTH_ERR_IO);
    EXPECT_EQ(f, nullptr);
    EXPECT_NE(std::string(hearth_last_error()).find("cannot open"), std::string::npos);

    const std::string bad = ::testing::TempDir() + "hearth_c_api_bad.gguf";
    FILE* out = std::fopen(bad.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::fwrite("GGUF\x01\x00\x00\x00", 1, 8, out);
    std::fclose(out);
    EXPECT_EQ(hearth_gguf_open(bad.c_str(), &f), HEARTH_ERR_INVALID_FILE);
    EXPECT_NE(std::string(hearth_last_error()).find("GGUF version 1 is not supported"), std::string::npos);
    std::remove(bad.c_str());

    EXPECT_EQ(hearth_gguf_tensor_count(nullptr), -1);
    EXPECT_EQ(hearth_gguf_kv_count(nullptr), -1);
    EXPECT_STREQ(hearth_gguf_architecture(nullptr), "");
    EXPECT_EQ(hearth_gguf_find_tensor(nullptr, "x"), -1);
    hearth_gguf_close(nullptr);
}

}  // namespace
