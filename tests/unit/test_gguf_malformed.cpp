// The malformed-GGUF suite: hand-built files with broken sizes, counts, offsets, types and strings
// (in the spirit of CVE-2025-53630 / CVE-2026-27940 / CVE-2026-7482). Each case must be rejected
// with Error(InvalidFile) whose message names the specific problem — never a crash or a huge alloc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "test_gguf_builder.h"

namespace hearth::gguf {
namespace {

using namespace hearth::gguf::testing;

// Parses bytes and checks that they are rejected with InvalidFile mentioning `needle`.
::testing::AssertionResult Rejects(const std::vector<uint8_t>& bytes, const std::string& needle) {
    try {
        File::from_memory(bytes.data(), bytes.size());
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (e.kind() != ErrorKind::InvalidFile)
            return ::testing::AssertionFailure() << "wrong kind " << error_kind_name(e.kind()) << ": " << msg;
        if (msg.find(needle) == std::string::npos)
            return ::testing::AssertionFailure() << "message lacks '" << needle << "': " << msg;
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "file was accepted";
}
::testing::AssertionResult Rejects(const RawGguf& g, const std::string& needle) { return Rejects(g.build(), needle); }

RawGguf with_kv(RawKv kv) {
    RawGguf g = valid_small();
    g.kvs.push_back(std::move(kv));
    return g;
}

TEST(GgufMalformed, BaselineIsValid) {
    auto bytes = valid_small().build();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->tensors().size(), 2u);
    EXPECT_EQ(f->kvs().size(), 5u);
    EXPECT_EQ(f->tensor_data(f->tensors()[1])[0], 32);
}

TEST(GgufMalformed, TruncationAtEveryByte) {
    const RawGguf g = valid_small();
    const auto full = g.build();
    const size_t infos_end = g.header_and_infos().b.size();
    for (size_t n = 0; n < full.size(); ++n) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        try {
            File::from_memory(cut.data(), cut.size());
            ADD_FAILURE() << "prefix of " << n << " bytes accepted";
        } catch (const Error& e) {
            ASSERT_EQ(e.kind(), ErrorKind::InvalidFile) << n;
            const std::string msg = e.what();
            if (n < 4) {
                EXPECT_NE(msg.find("too small"), std::string::npos) << n << ": " << msg;
            } else if (n < infos_end) {
                const bool ok = msg.find("truncated") != std::string::npos ||
                                msg.find("bytes left in the file") != std::string::npos ||
                                msg.find("remain") != std::string::npos;
                EXPECT_TRUE(ok) << n << ": " << msg;
            } else {
                const bool ok = msg.find("beyond the end") != std::string::npos ||
                                msg.find("outside") != std::string::npos;
                EXPECT_TRUE(ok) << n << ": " << msg;
            }
        }
    }
}

TEST(GgufMalformed, EmptyAndTinyFiles) {
    EXPECT_TRUE(Rejects(std::vector<uint8_t>{}, "too small"));
    EXPECT_TRUE(Rejects(std::vector<uint8_t>{'G', 'G'}, "too small"));
    EXPECT_TRUE(Rejects(std::vector<uint8_t>{'G', 'G', 'U', 'F', 3}, "truncated: version"));
}

TEST(GgufMalformed, BadMagic) {
    RawGguf g = valid_small();
    g.magic = "GGML";
    EXPECT_TRUE(Rejects(g, "not a GGUF file (magic is 'GGML'"));
}

TEST(GgufMalformed, Versions) {
    RawGguf g = valid_small();
    g.version = 0;
    EXPECT_TRUE(Rejects(g, "unsupported GGUF version 0"));
    g.version = 1;
    EXPECT_TRUE(Rejects(g, "GGUF version 1 is not supported"));
    g.version = 4;
    EXPECT_TRUE(Rejects(g, "unsupported GGUF version 4"));
    g.version = 0x03000000;  // version 3 written big-endian
    EXPECT_TRUE(Rejects(g, "byte-swapped (big-endian) GGUF"));
    g.version = 0x02000000;
    EXPECT_TRUE(Rejects(g, "byte-swapped (big-endian) GGUF"));
    g.version = 2;  // v2 has the same layout as v3
    auto bytes = g.build();
    EXPECT_EQ(File::from_memory(bytes.data(), bytes.size())->version(), 2u);
}

TEST(GgufMalformed, HugeTensorCount) {
    RawGguf g = valid_small();
    g.n_tensors_override = UINT64_MAX;
    EXPECT_TRUE(Rejects(g, "tensor count 18446744073709551615 is impossible"));
    g.n_tensors_override = 1000;  // plausible number, but not enough bytes for 1000 infos
    EXPECT_TRUE(Rejects(g, "tensor count 1000 is impossible"));
}

TEST(GgufMalformed, HugeKvCount) {
    RawGguf g = valid_small();
    g.n_kv_override = 1ull << 62;
    EXPECT_TRUE(Rejects(g, "metadata count 4611686018427387904 is impossible"));
    g.n_kv_override = 6;  // one more than present: runs into the tensor infos and fails there
    EXPECT_TRUE(Rejects(g, "gguf: "));
}

TEST(GgufMalformed, HugeKeyLength) {
    Bytes b;
    b.raw("GGUF").u32(3).u64(0).u64(1).u64(UINT64_MAX).raw(std::string(20, 'k'));
    EXPECT_TRUE(Rejects(b.b, "key length 18446744073709551615 exceeds the limit"));
}

TEST(GgufMalformed, OneMebibyteKey) {
    EXPECT_TRUE(Rejects(with_kv(kv_u32(std::string(1 << 20, 'k'), 1)), "key length 1048576 exceeds the limit of 65535"));
}

TEST(GgufMalformed, OneMebibyteTensorName) {
    RawGguf g = valid_small();
    g.tensors[0].name = std::string(1 << 20, 't');
    EXPECT_TRUE(Rejects(g, "tensor name length 1048576 exceeds the limit"));
}

TEST(GgufMalformed, StringLengthPastEnd) {
    // Declares a 1000-byte string but the file ends after 3 bytes.
    Bytes b;
    b.raw("GGUF").u32(3).u64(0).u64(1).str("k").u32(T_STR).u64(1000).raw("abc");
    EXPECT_TRUE(Rejects(b.b, "string value length 1000 exceeds the 3 bytes left"));
}

TEST(GgufMalformed, StringLengthWrapsAround) {
    // A length near 2^64 would wrap pos + len; it must be rejected before any arithmetic.
    EXPECT_TRUE(Rejects(with_kv({"s", T_STR, Bytes().u64(UINT64_MAX - 3).raw("abc")}), "string value length"));
}

TEST(GgufMalformed, StringOverSaneLimit) {
    // 64 MiB + 1 is refused by the length limit before the bytes left are even considered.
    EXPECT_TRUE(Rejects(with_kv({"s", T_STR, Bytes().u64((64ull << 20) + 1).raw("abc")}),
                        "string value length 67108865 exceeds the limit of 67108864 bytes"));
}

TEST(GgufMalformed, HugeArrayLength) {
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_U32).u64(1ull << 62)}), "array length 4611686018427387904"));
    // count * 8 overflows 64 bits: must not wrap to a small allocation.
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_U64).u64((1ull << 61) + 1)}), "array length"));
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_STR).u64(UINT64_MAX)}), "array length"));
}

TEST(GgufMalformed, ArrayCountMoreThanElements) {
    // Claims 1000 u8 elements; the rest of the file is shorter.
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_U8).u64(1000).u8(1)}), "array length 1000 of u8"));
}

TEST(GgufMalformed, ArrayOfArrays) {
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_ARR).u64(1).u32(T_U8).u64(1).u8(0)}),
                        "arrays of arrays are not allowed"));
}

TEST(GgufMalformed, UnknownValueType) {
    EXPECT_TRUE(Rejects(with_kv({"x", 13, Bytes().u32(0)}), "unknown value type 13"));
    EXPECT_TRUE(Rejects(with_kv({"x", 0xFFFFFFFFu, Bytes().u32(0)}), "unknown value type 4294967295"));
    EXPECT_TRUE(Rejects(with_kv({"x", T_ARR, Bytes().u32(99).u64(0)}), "unknown value type 99"));
}

TEST(GgufMalformed, BoolNotZeroOrOne) {
    EXPECT_TRUE(Rejects(with_kv({"b", T_BOOL, Bytes().u8(2)}), "bool value is 2"));
}

TEST(GgufMalformed, EmptyKey) { EXPECT_TRUE(Rejects(with_kv(kv_u32("", 1)), "empty key")); }

TEST(GgufMalformed, DuplicateKey) {
    EXPECT_TRUE(Rejects(with_kv(kv_u32("llama.block_count", 3)), "key 'llama.block_count': duplicate key"));
}

TEST(GgufMalformed, NonUtf8Keys) {
    EXPECT_TRUE(Rejects(with_kv(kv_u32("bad\xff", 1)), "key is not valid UTF-8"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("over\xc0\xaflong", 1)), "key is not valid UTF-8"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("surrogate\xed\xa0\x80", 1)), "key is not valid UTF-8"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("cut\xe2\x82", 1)), "key is not valid UTF-8"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("big\xf4\x90\x80\x80", 1)), "key is not valid UTF-8"));
    // Valid multi-byte keys are fine.
    auto ok = with_kv(kv_u32("caf\xc3\xa9.\xf0\x9f\x94\xa5", 1)).build();
    EXPECT_NO_THROW(File::from_memory(ok.data(), ok.size()));
}

TEST(GgufMalformed, NonUtf8ValuesAcceptedAndRecorded) {
    RawGguf g = with_kv(kv_str("general.name", "n\xff\xfe"));
    g.kvs.push_back({"toks", T_ARR, Bytes().u32(T_STR).u64(2).str("ok").str("\x80")});
    auto bytes = g.build();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_TRUE(f->find("general.name")->non_utf8);
    EXPECT_TRUE(f->find("toks")->non_utf8);
    EXPECT_FALSE(f->find("general.architecture")->non_utf8);
    ASSERT_EQ(f->warnings().size(), 2u);
    EXPECT_NE(f->warnings()[0].find("general.name"), std::string::npos);
}

TEST(GgufMalformed, AlignmentValues) {
    EXPECT_TRUE(Rejects(with_kv(kv_u32("general.alignment", 0)), "non-zero power of two, found 0"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("general.alignment", 3)), "non-zero power of two, found 3"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("general.alignment", 13)), "non-zero power of two, found 13"));
    EXPECT_TRUE(Rejects(with_kv(kv_str("general.alignment", "32")), "general.alignment must be a u32, found string"));
    EXPECT_TRUE(Rejects(with_kv({"general.alignment", T_U64, Bytes().u64(32)}), "must be a u32, found u64"));
}

TEST(GgufMalformed, CustomAlignmentIsHonoured) {
    RawGguf g = with_kv(kv_u32("general.alignment", 64));
    g.alignment = 64;
    g.tensors[1].offset = 64;
    g.data_bytes = 64 + 64;
    auto bytes = g.build();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    g.tensors[1].offset = 32;  // aligned to 32 but not to the declared 64
    EXPECT_TRUE(Rejects(g, "not a multiple of the alignment 64"));
}

TEST(GgufMalformed, WellKnownKeysWithWrongTypes) {
    EXPECT_TRUE(Rejects(with_kv(kv_str("llama.context_length", "4096")), "key 'llama.context_length': must be a non-negative integer, found string"));
    EXPECT_TRUE(Rejects(with_kv(kv_f32("llama.embedding_length", 4096.f)), "key 'llama.embedding_length': must be a non-negative integer, found f32"));
    EXPECT_TRUE(Rejects(with_kv(kv_str("llama.feed_forward_length", "x")), "key 'llama.feed_forward_length'"));
    EXPECT_TRUE(Rejects(with_kv(kv_f32("llama.attention.head_count", 8.f)), "key 'llama.attention.head_count'"));
    EXPECT_TRUE(Rejects(with_kv(kv_str("llama.attention.layer_norm_rms_epsilon", "1e-5")), "must be a float"));
    EXPECT_TRUE(Rejects(with_kv({"llama.context_length", T_ARR, Bytes().u32(T_U32).u64(1).u32(5)}),
                        "found array of u32"));
    EXPECT_TRUE(Rejects(with_kv(kv_u32("tokenizer.ggml.model", 1)), "key 'tokenizer.ggml.model': must be a string"));
    EXPECT_TRUE(Rejects(with_kv(kv_str("tokenizer.ggml.bos_token_id", "1")), "must be an integer"));
    RawGguf g = valid_small();
    g.kvs[1] = kv_str("llama.block_count", "2");
    EXPECT_TRUE(Rejects(g, "key 'llama.block_count': must be a non-negative integer, found string"));
    g.kvs[1] = kv_i32("llama.block_count", -2);
    EXPECT_TRUE(Rejects(g, "found i32 -2"));
    g = valid_small();
    g.kvs[0] = kv_u32("general.architecture", 7);
    EXPECT_TRUE(Rejects(g, "key 'general.architecture': must be a string, found u32"));
    g = valid_small();
    g.kvs[3] = {"tokenizer.ggml.tokens", T_ARR, Bytes().u32(T_U32).u64(1).u32(5)};
    EXPECT_TRUE(Rejects(g, "must be an array of strings, found array of u32"));
    // Per-layer arrays are allowed where models use them (OpenELM-style head counts).
    auto ok = with_kv({"llama.attention.head_count", T_ARR, Bytes().u32(T_I32).u64(2).u32(4).u32(8)}).build();
    EXPECT_NO_THROW(File::from_memory(ok.data(), ok.size()));
}

TEST(GgufMalformed, TensorNDims) {
    RawGguf g = valid_small();
    g.tensors[0].ne = {};
    EXPECT_TRUE(Rejects(g, "n_dims is 0, must be 1..4"));
    g.tensors[0].ne = {4, 1, 1, 1, 1};
    EXPECT_TRUE(Rejects(g, "n_dims is 5, must be 1..4"));
    g = valid_small();
    g.tensors[0].n_dims_override = 0xFFFFFFFFu;
    EXPECT_TRUE(Rejects(g, "tensor 'a': n_dims is 4294967295"));
}

TEST(GgufMalformed, ZeroDimension) {
    RawGguf g = valid_small();
    g.tensors[1].ne = {8, 0};
    EXPECT_TRUE(Rejects(g, "tensor 'b': dimension 1 is 0"));
}

TEST(GgufMalformed, NegativeDimension) {
    RawGguf g = valid_small();
    g.tensors[1].ne = {8, static_cast<uint64_t>(-2)};
    EXPECT_TRUE(Rejects(g, "dimension 1 is negative (-2 as int64)"));
}

TEST(GgufMalformed, OverflowingDims) {
    RawGguf g = valid_small();
    g.tensors[1].ne = {1ull << 32, 1ull << 32};
    EXPECT_TRUE(Rejects(g, "element count overflows at dimension 1"));
    g.tensors[1].ne = {1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20};
    EXPECT_TRUE(Rejects(g, "element count overflows"));
    // Element count fits int64 but bytes (x4 for f32) do not.
    g.tensors[1].ne = {1ull << 62};
    EXPECT_TRUE(Rejects(g, "byte size overflows"));
    g.tensors[1].ne = {1ull << 61, 2};  // the row fits, rows x row bytes does not
    EXPECT_TRUE(Rejects(g, "byte size overflows"));
    g.tensors[1].ne = {1ull << 60};  // 2^62 bytes: fits uint64 but not the file
    EXPECT_TRUE(Rejects(g, "lies outside"));
}

TEST(GgufMalformed, UnknownTensorType) {
    RawGguf g = valid_small();
    g.tensors[0].type = 4;  // Q4_2: removed from the format
    EXPECT_TRUE(Rejects(g, "tensor 'a': unknown tensor type 4"));
    g.tensors[0].type = 1000;
    EXPECT_TRUE(Rejects(g, "unknown tensor type 1000"));
}

TEST(GgufMalformed, RowNotMultipleOfBlock) {
    RawGguf g = valid_small();
    g.tensors[1].ne = {33, 2};
    g.tensors[1].type = 2;  // Q4_0: 32 elements per block
    EXPECT_TRUE(Rejects(g, "dimension 0 (33) is not a multiple of the q4_0 block size 32"));
}

TEST(GgufMalformed, UnalignedOffset) {
    RawGguf g = valid_small();
    g.tensors[1].offset = 36;
    EXPECT_TRUE(Rejects(g, "tensor 'b': data offset 36 is not a multiple of the alignment 32"));
}

TEST(GgufMalformed, OffsetOutsideFile) {
    RawGguf g = valid_small();
    g.tensors[1].offset = 1ull << 40;
    EXPECT_TRUE(Rejects(g, "tensor 'b': data [1099511627776, +64) lies outside"));
    g.tensors[1].offset = UINT64_MAX - 31;  // offset + size wraps around 2^64
    EXPECT_TRUE(Rejects(g, "lies outside"));
    g = valid_small();
    g.data_bytes = 32 + 63;  // last tensor one byte short
    EXPECT_TRUE(Rejects(g, "tensor 'b': data [32, +64) lies outside the 95-byte data section"));
}

TEST(GgufMalformed, OverlappingTensors) {
    RawGguf g = valid_small();
    g.tensors[0].ne = {16};  // 64 bytes at 0..64 overlaps b at 32
    EXPECT_TRUE(Rejects(g, "tensor 'b': data at offset 32 overlaps tensor 'a'"));
    g = valid_small();
    g.tensors[1].offset = 0;  // same offset as a
    EXPECT_TRUE(Rejects(g, "overlaps"));
}

TEST(GgufMalformed, DuplicateTensorName) {
    RawGguf g = valid_small();
    g.tensors[1].name = "a";
    EXPECT_TRUE(Rejects(g, "tensor 'a': duplicate tensor name"));
}

TEST(GgufMalformed, BadTensorNames) {
    RawGguf g = valid_small();
    g.tensors[0].name = "";
    EXPECT_TRUE(Rejects(g, "empty tensor name"));
    g.tensors[0].name = "w\xff";
    EXPECT_TRUE(Rejects(g, "tensor name is not valid UTF-8"));
}

TEST(GgufMalformed, U64ArrayElementTooLarge) {
    EXPECT_TRUE(Rejects(with_kv({"arr", T_ARR, Bytes().u32(T_U64).u64(2).u64(1).u64(1ull << 63)}),
                        "array element 1 (9223372036854775808) does not fit in int64"));
}

TEST(GgufMalformed, DataSectionBeyondEnd) {
    RawGguf g = valid_small();
    auto bytes = g.header_and_infos().b;  // no padding, no data
    EXPECT_TRUE(Rejects(bytes, "beyond the end of the file"));
}

TEST(GgufMalformed, MessageNamesByteOffset) {
    // The duplicate key sits right after the 5 valid KVs; its offset must be in the message.
    RawGguf g = with_kv(kv_u32("flag", 1));
    RawGguf kvs_only;
    kvs_only.kvs = valid_small().kvs;
    const size_t at = kvs_only.header_and_infos().b.size();
    EXPECT_TRUE(Rejects(g, "key 'flag': duplicate key (first defined at byte offset"));
    EXPECT_TRUE(Rejects(g, "(at byte offset " + std::to_string(at) + ")"));
}

TEST(GgufMalformed, GettersRejectWrongTypes) {
    auto bytes = valid_small().build();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_THROW(f->get_uint("general.architecture"), Error);
    EXPECT_THROW(f->get_string("llama.block_count"), Error);
    EXPECT_THROW(f->get_bool("llama.block_count"), Error);
    EXPECT_THROW(f->get_int_array("tokenizer.ggml.tokens"), Error);
    EXPECT_THROW(f->get_float("tokenizer.ggml.tokens"), Error);
    try {
        f->get_uint("general.architecture");
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidFile);
        EXPECT_NE(std::string(e.what()).find("key 'general.architecture' is string, expected an integer"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(f->get_uint("absent").has_value());
    EXPECT_EQ(f->get_string_array("absent"), nullptr);
}

TEST(GgufMalformed, OpenRejectsMissingPathAndDirectory) {
    try {
        File::open("/nonexistent/x.gguf");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find("cannot open '/nonexistent/x.gguf'"), std::string::npos);
    }
    const std::string fifo = ::testing::TempDir() + "hearth_gguf_fifo_" + std::to_string(::getpid());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    try {
        File::open(fifo);  // must not block waiting for a writer
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
    ::unlink(fifo.c_str());
    try {
        File::open("/tmp");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
    }
}

}  // namespace
}  // namespace hearth::gguf
