// Tests of the placement option parsers (sizes, devices, -ot rules, KV types) and of the exact KV
// byte math per cache type, plus the device registry's CPU-only paths.
#include <gtest/gtest.h>

#include <functional>

#include "backend/placement/devices.h"
#include "backend/placement/placement.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::placement {
namespace {

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no hearth::Error thrown";
    return ErrorKind::Internal;
}

TEST(FitParse, SizesWithUnits) {
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("800MiB"), 800ull << 20);
    EXPECT_EQ(parse_size("800M"), 800ull << 20);
    EXPECT_EQ(parse_size("12G"), 12ull << 30);
    EXPECT_EQ(parse_size("11.5GiB"), (23ull << 30) / 2);
    EXPECT_EQ(parse_size(" 2 gib "), 2ull << 30);
    EXPECT_EQ(parse_size("1.5KB"), 1500u);
    EXPECT_EQ(parse_size("3GB"), 3000000000ull);
    EXPECT_EQ(parse_size("1T"), 1ull << 40);
    EXPECT_EQ(parse_size("10b"), 10u);
}

TEST(FitParse, SizeGarbageIsRejected) {
    for (const char* bad : {"", "abc", "12X", "-5G", "1.5", "1e9", "99999999999T", "G", "1..5G", "5 G B", "0x10"}) {
        try {
            parse_size(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << bad;
            EXPECT_NE(std::string(e.what()).find("invalid size"), std::string::npos) << e.what();
        }
    }
}

TEST(FitParse, FormatSize) {
    EXPECT_EQ(format_size(0), "0 B");
    EXPECT_EQ(format_size(1023), "1023 B");
    EXPECT_EQ(format_size(312ull << 20), "312.0 MiB");
    EXPECT_EQ(format_size((23ull << 30) / 2), "11.5 GiB");
}

TEST(FitParse, Devices) {
    EXPECT_TRUE(parse_device_list("none").empty());
    EXPECT_TRUE(parse_device_list("NONE").empty());
    const auto l = parse_device_list("cuda1,cpu");
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].kind, DeviceId::Kind::Cuda);
    EXPECT_EQ(l[0].index, 1);
    EXPECT_EQ(l[0].name(), "cuda1");
    EXPECT_EQ(l[1].name(), "cpu");
    EXPECT_EQ(parse_device("CUDA0").name(), "cuda0");
    for (const char* bad : {"gpu", "cuda", "cudax", "cuda-1", "cuda0,cuda0", "", "cpu,", "cuda99999"})
        EXPECT_EQ(kind_of([&] { parse_device_list(bad); }), ErrorKind::InvalidArgument) << bad;
}

TEST(FitParse, Overrides) {
    const auto o = parse_overrides("blk\\.[0-3]\\.ffn=CPU,output=cuda0");
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[0].pattern_text, "blk\\.[0-3]\\.ffn");
    EXPECT_EQ(o[0].device.name(), "cpu");
    EXPECT_TRUE(std::regex_search("blk.2.ffn_up.weight", o[0].pattern));
    EXPECT_FALSE(std::regex_search("blk.5.ffn_up.weight", o[0].pattern));
    EXPECT_EQ(o[1].device.name(), "cuda0");
    for (const char* bad : {"noequals", "=cpu", "[=cpu", "x=tpu", "a=cpu,"})
        EXPECT_EQ(kind_of([&] { parse_overrides(bad); }), ErrorKind::InvalidArgument) << bad;
}

// Regression (fuzz_request + UBSan): a long digit run as a back-reference or {m,n} count overflowed
// inside std::regex's compiler (signed overflow); it must be a clean InvalidArgument.
TEST(FitParse, OverrideRegexHugeNumbers) {
    for (const char* bad : {"a\\77777777777777777777=cpu", "a{99999999999999999999}=cpu", "(x)\\123456=cpu",
                            "b{100001}=cpu"})
        EXPECT_EQ(kind_of([&] { parse_overrides(bad); }), ErrorKind::InvalidArgument) << bad;
    // Ordinary counts, escaped braces and digits in the text are untouched (',' separates rules).
    const auto o = parse_overrides("blk\\.(1[0-9]|2[0-3])\\.ffn_(up|down)=cpu,x{3}=cpu,\\{12345678\\}=cpu,blk\\.12345678=cpu");
    ASSERT_EQ(o.size(), 4u);
    EXPECT_TRUE(std::regex_search("blk.21.ffn_up.weight", o[0].pattern));
    EXPECT_TRUE(std::regex_search("axxx", o[1].pattern));
}

TEST(FitParse, KvTypes) {
    EXPECT_EQ(parse_kv_type("f16"), DType::F16);
    EXPECT_EQ(parse_kv_type("Q8_0"), DType::Q8_0);
    EXPECT_EQ(parse_kv_type("q4_0"), DType::Q4_0);
    EXPECT_EQ(parse_kv_type("iq4_nl"), DType::IQ4_NL);
    for (const char* bad : {"q4_K", "q6_k", "int8", ""})
        EXPECT_EQ(kind_of([&] { parse_kv_type(bad); }), ErrorKind::InvalidArgument) << bad;
}

ModelSummary kv_model(int64_t k_row, int64_t v_row) {
    ModelSummary m;
    m.n_layer = 2;
    m.n_embd_k_gqa = {k_row, k_row};
    m.n_embd_v_gqa = {v_row, v_row};
    return m;
}

TEST(FitKv, BytesPerTokenFollowBlockLayouts) {
    const ModelSummary m = kv_model(128, 64);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::F32, DType::F32), 128u * 4 + 64u * 4);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::F16, DType::F16), 128u * 2 + 64u * 2);
    EXPECT_EQ(kv_bytes_per_token(m, 1, DType::BF16, DType::F16), 128u * 2 + 64u * 2);
    // q8_0: 32 values in 34 bytes (f16 scale + 32 int8); q4_0: 32 in 18 (scale + 16 nibble bytes);
    // q4_1 32 in 20; q5_0 32 in 22; q5_1 32 in 24; iq4_nl 32 in 18.
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::Q8_0, DType::Q8_0), 4u * 34 + 2u * 34);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::Q4_0, DType::Q4_0), 4u * 18 + 2u * 18);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::Q4_1, DType::Q5_0), 4u * 20 + 2u * 22);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::Q5_1, DType::IQ4_NL), 4u * 24 + 2u * 18);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::Q8_0, DType::F16), 4u * 34 + 64u * 2);
}

TEST(FitKv, RowNotWholeBlocksIsRejected) {
    const ModelSummary m = kv_model(48, 64);
    EXPECT_EQ(kv_bytes_per_token(m, 0, DType::F16, DType::Q8_0), 96u + 68u);
    try {
        kv_bytes_per_token(m, 0, DType::Q4_0, DType::F16);
        FAIL() << "accepted a 48-wide q4_0 row";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("48"), std::string::npos) << e.what();
    }
}

TEST(FitModel, LayerOfTensorName) {
    EXPECT_EQ(layer_of_tensor("blk.0.attn_q.weight"), 0);
    EXPECT_EQ(layer_of_tensor("blk.17.ffn_down.weight"), 17);
    EXPECT_EQ(layer_of_tensor("output.weight"), -1);
    EXPECT_EQ(layer_of_tensor("blk..x"), -1);
    EXPECT_EQ(layer_of_tensor("blk.1x.y"), -1);
    EXPECT_EQ(layer_of_tensor("blk.-1.y"), -1);
    EXPECT_EQ(layer_of_tensor("blk.3"), -1);
}

TEST(FitModel, SummaryOfSharedModels) {
    const std::string dir = std::string(HEARTH_SHARED_DIR) + "/models/";
    {
        const auto f = gguf::File::open(dir + "tiny-qwen3-bpe-Q4_K_M.gguf");
        const ModelSummary m = read_model_summary(*f);
        EXPECT_EQ(m.arch, "qwen3");
        EXPECT_EQ(m.n_layer, 4);
        EXPECT_TRUE(m.tied_output);  // qwen3 tiny: tied embeddings
        EXPECT_EQ(m.n_embd_k_gqa[0], 2 * 64);
        uint64_t total = 0;
        for (const auto& t : f->tensors()) total += t.nbytes;
        uint64_t sum = 0;
        for (const TensorEntry& t : m.tensors) sum += t.bytes;
        EXPECT_EQ(sum, total);
        // 4 layers x 4096 tokens x (K 128 + V 128 f16 values) = 8 MiB.
        uint64_t kv = 0;
        for (int64_t il = 0; il < m.n_layer; ++il) kv += 4096 * kv_bytes_per_token(m, il, DType::F16, DType::F16);
        EXPECT_EQ(kv, 8ull << 20);
    }
    {
        const auto f = gguf::File::open(dir + "tiny-llama-spm-Q4_K_M.gguf");
        const ModelSummary m = read_model_summary(*f);
        EXPECT_FALSE(m.tied_output);
        EXPECT_EQ(m.output_matrix_bytes, f->find_tensor("output.weight")->nbytes);
        EXPECT_EQ(m.n_embd_v_gqa[3], 4 * 32);
    }
}

TEST(FitDevices, CpuOnlySelectionsNeedNoAccelerator) {
    EXPECT_FALSE(resolve_accelerator({}).has_value());
    EXPECT_FALSE(resolve_accelerator(parse_device_list("cpu")).has_value());
    if (!cuda_built()) {
        try {
            resolve_accelerator(parse_device_list("cuda0"));
            FAIL() << "cuda0 resolved on a CPU-only build";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
            EXPECT_NE(std::string(e.what()).find("hearth was built without CUDA"), std::string::npos) << e.what();
        }
        EXPECT_TRUE(list_accelerators().empty());
    }
    EXPECT_EQ(kind_of([] { resolve_accelerator(parse_device_list("cuda0,cuda1")); }), ErrorKind::Unsupported);
}

}  // namespace
}  // namespace hearth::placement
