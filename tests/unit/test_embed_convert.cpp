// Embedding-area input handling: the safetensors reader on valid and malformed files (never a
// crash, always Error naming the problem), F16/BF16 widening, and <arch>.pooling_type read from
// the model file (qwen3 as a Qwen3-Embedding-style embedder) with --pooling taking precedence.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/convert/safetensors.h"
#include "model/model.h"
#include "runtime/embedding.h"

namespace hearth {
namespace {

std::string write_st(const std::string& header, const std::vector<uint8_t>& data, const char* name) {
    const std::string path = testing::TempDir() + "/" + name + ".safetensors";
    std::ofstream out(path, std::ios::binary);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xFF));
    out << header;
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
    return path;
}

std::string error_of(const std::string& path) {
    try {
        convert::SafeTensors::open(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(EmbedSafetensors, ReadsFloatTypes) {
    // a: F32 [2] = {1, -2}; b: F16 [1] = 1.5 (0x3E00); c: BF16 [1] = 2.0 (0x4000)
    std::vector<uint8_t> d = {0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0, 0x00, 0x3E, 0x00, 0x40};
    const std::string h = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"c":{"dtype":"BF16","shape":[1,1],"data_offsets":[10,12]}})";
    const auto st = convert::SafeTensors::open(write_st(h, d, "ok"));
    EXPECT_EQ(st.tensors().size(), 3u);
    EXPECT_EQ(st.read_f32("a"), (std::vector<float>{1.0f, -2.0f}));
    EXPECT_EQ(st.read_f32("b"), (std::vector<float>{1.5f}));
    EXPECT_EQ(st.read_f32("c"), (std::vector<float>{2.0f}));
    EXPECT_EQ(st.find("c")->shape, (std::vector<int64_t>{1, 1}));
    EXPECT_THROW(st.read_f32("missing"), Error);
}

TEST(EmbedSafetensors, RejectsMalformedFiles) {
    const std::vector<uint8_t> d(8, 0);
    EXPECT_NE(error_of(write_st("{not json", d, "badjson")).find("not valid JSON"), std::string::npos);
    EXPECT_NE(error_of(write_st("[1]", d, "notobj")).find("not a JSON object"), std::string::npos);
    EXPECT_NE(error_of(write_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", d, "outside")).find("outside"),
              std::string::npos);
    EXPECT_NE(error_of(write_st(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d, "size")).find("does not match"),
              std::string::npos);
    EXPECT_NE(error_of(write_st(R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", d, "dtype")).find("unknown dtype"),
              std::string::npos);
    EXPECT_NE(error_of(write_st(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d, "neg")).find("shape"),
              std::string::npos);
    EXPECT_NE(error_of(write_st(R"({"a":{"dtype":"F32"}})", d, "fields")).find("data_offsets"), std::string::npos);
    // A header length beyond the file.
    const std::string path = testing::TempDir() + "/short.safetensors";
    std::ofstream(path, std::ios::binary) << std::string("\xFF\xFF\x00\x00\x00\x00\x00\x00{}", 10);
    EXPECT_NE(error_of(path).find("exceeds the file size"), std::string::npos);
    std::ofstream(testing::TempDir() + "/tiny.safetensors", std::ios::binary) << "abc";
    EXPECT_NE(error_of(testing::TempDir() + "/tiny.safetensors").find("too small"), std::string::npos);
    EXPECT_THROW(convert::SafeTensors::open(testing::TempDir() + "/does-not-exist.safetensors"), Error);
    // An I64 tensor is readable as metadata but not as weights.
    const auto st = convert::SafeTensors::open(write_st(R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", d, "i64"));
    EXPECT_THROW(st.read_f32("ids"), Error);
}

// The tiny qwen3 with "<arch>.pooling_type" set to `pooling` (copied in memory).
std::unique_ptr<Model> qwen_with_pooling(uint32_t pooling) {
    const auto src = gguf::File::open(std::string(HEARTH_SHARED_DIR) + "/models/tiny-qwen3-bpe-f16.gguf");
    gguf::Writer w;
    for (const gguf::KeyValue& kv : src->kvs()) w.set(kv.key, kv.value);
    w.set("qwen3.pooling_type", gguf::Value::u32(pooling));
    for (const gguf::TensorInfo& t : src->tensors())
        w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), src->tensor_data(t), size_t(t.nbytes));
    const std::vector<uint8_t> bytes = w.to_bytes();
    return Model::from_file(gguf::File::from_memory(bytes.data(), bytes.size()));
}

TEST(EmbedPoolingFromFile, FileChoosesAndFlagOverrides) {
    const auto m = qwen_with_pooling(1);  // mean
    EmbedParams ep;
    ep.n_ctx = 256;
    ep.n_threads = 2;
    EXPECT_EQ(Embedder(*m, ep).pooling(), PoolingType::Mean);
    ep.pooling = PoolingType::Cls;
    EXPECT_EQ(Embedder(*m, ep).pooling(), PoolingType::Cls);
    const auto bad = qwen_with_pooling(9);
    ep.pooling = PoolingType::Unspecified;
    EXPECT_THROW(Embedder(*bad, ep), Error);
}

}  // namespace
}  // namespace hearth
