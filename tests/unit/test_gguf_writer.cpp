// GGUF writer tests: every metadata value type and several tensor types survive a write/read round
// trip (in memory and through a file), alignment is honoured, and bad writer input is refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::gguf {
namespace {

Value scalar(ValueType t, std::variant<uint64_t, int64_t, double, bool, std::string> v) {
    Value out;
    out.type = t;
    out.scalar = std::move(v);
    return out;
}

Writer make_writer(std::vector<uint8_t>& f32_data, std::vector<uint8_t>& q8_data) {
    Writer w;
    w.set("general.architecture", Value::str("llama"));
    w.set("k.u8", scalar(ValueType::UInt8, uint64_t{250}));
    w.set("k.i8", scalar(ValueType::Int8, int64_t{-100}));
    w.set("k.u16", scalar(ValueType::UInt16, uint64_t{65000}));
    w.set("k.i16", scalar(ValueType::Int16, int64_t{-30000}));
    w.set("k.u32", Value::u32(4000000000u));
    w.set("k.i32", Value::i32(-2000000000));
    w.set("k.u64", Value::u64(1ull << 60));
    w.set("k.i64", scalar(ValueType::Int64, int64_t{-(1ll << 60)}));
    w.set("k.f32", Value::f32(0.25f));
    w.set("k.f64", scalar(ValueType::Float64, 1.0 / 3.0));
    w.set("k.bool", Value::boolean(true));
    w.set("k.str", Value::str("h\xc3\xa9llo"));
    w.set("k.astr", Value::string_array({"a", "", "ccc"}));
    w.set("k.ai32", Value::int_array(ValueType::Int32, {-1, 0, 7}));
    w.set("k.au8", Value::int_array(ValueType::UInt8, {1, 255}));
    w.set("k.af32", Value::float_array({0.5, -2.0}));
    Value bools;
    bools.type = ValueType::Array;
    bools.array_type = ValueType::Bool;
    bools.bools = {1, 0, 1};
    w.set("k.abool", bools);
    Value f64s;
    f64s.type = ValueType::Array;
    f64s.array_type = ValueType::Float64;
    f64s.floats = {1e300};
    w.set("k.af64", f64s);
    w.set("k.u32", Value::u32(7));  // replaces the earlier value, keeps its position
    f32_data.resize(3 * 5 * 4);
    for (size_t i = 0; i < f32_data.size(); ++i) f32_data[i] = static_cast<uint8_t>(i);
    w.add_tensor("w.f32", DType::F32, {5, 3}, f32_data.data(), f32_data.size());
    q8_data.resize(2 * 34);
    for (size_t i = 0; i < q8_data.size(); ++i) q8_data[i] = static_cast<uint8_t>(200 - i);
    w.add_tensor("w.q8", DType::Q8_0, {64}, q8_data.data(), q8_data.size());
    w.add_tensor("w.f16", DType::F16, {3, 1, 1, 2}, [](uint8_t* dst, size_t n) { std::memset(dst, 0xAB, n); });
    return w;
}

void check_round_trip(const File& f, const std::vector<uint8_t>& f32_data, const std::vector<uint8_t>& q8_data) {
    EXPECT_EQ(f.version(), 3u);
    ASSERT_EQ(f.kvs().size(), 19u);
    EXPECT_EQ(f.kvs()[5].key, "k.u32");
    EXPECT_EQ(f.get_uint("k.u8"), 250u);
    EXPECT_EQ(f.find("k.u8")->type, ValueType::UInt8);
    EXPECT_EQ(f.get_int("k.i8"), -100);
    EXPECT_EQ(f.find("k.i8")->type, ValueType::Int8);
    EXPECT_EQ(f.get_uint("k.u16"), 65000u);
    EXPECT_EQ(f.get_int("k.i16"), -30000);
    EXPECT_EQ(f.get_uint("k.u32"), 7u);
    EXPECT_EQ(f.get_int("k.i32"), -2000000000);
    EXPECT_EQ(f.get_uint("k.u64"), 1ull << 60);
    EXPECT_EQ(f.get_int("k.i64"), -(1ll << 60));
    EXPECT_EQ(f.get_float("k.f32"), 0.25);
    EXPECT_EQ(f.find("k.f32")->type, ValueType::Float32);
    EXPECT_EQ(f.get_float("k.f64"), 1.0 / 3.0);
    EXPECT_EQ(f.get_bool("k.bool"), true);
    EXPECT_EQ(f.get_string("k.str"), "h\xc3\xa9llo");
    EXPECT_EQ(*f.get_string_array("k.astr"), (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(*f.get_int_array("k.ai32"), (std::vector<int64_t>{-1, 0, 7}));
    EXPECT_EQ(f.find("k.ai32")->array_type, ValueType::Int32);
    EXPECT_EQ(*f.get_int_array("k.au8"), (std::vector<int64_t>{1, 255}));
    EXPECT_EQ(*f.get_float_array("k.af32"), (std::vector<double>{0.5, -2.0}));
    EXPECT_EQ(f.find("k.abool")->bools, (std::vector<uint8_t>{1, 0, 1}));
    EXPECT_EQ(*f.get_float_array("k.af64"), (std::vector<double>{1e300}));
    EXPECT_TRUE(f.warnings().empty());

    ASSERT_EQ(f.tensors().size(), 3u);
    const TensorInfo* a = f.find_tensor("w.f32");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->n_dims, 2u);
    EXPECT_EQ(a->ne[0], 5);
    EXPECT_EQ(a->ne[1], 3);
    EXPECT_EQ(a->nbytes, 60u);
    EXPECT_EQ(0, std::memcmp(f.tensor_data(*a), f32_data.data(), 60));
    const TensorInfo* q = f.find_tensor("w.q8");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, DType::Q8_0);
    EXPECT_EQ(q->nbytes, 68u);
    EXPECT_EQ(q->offset % 32, 0u);
    EXPECT_EQ(0, std::memcmp(f.tensor_data(*q), q8_data.data(), 68));
    const TensorInfo* h = f.find_tensor("w.f16");
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->n_dims, 4u);
    EXPECT_EQ(h->n_elements(), 6);
    EXPECT_EQ(f.tensor_data(*h)[11], 0xAB);
}

TEST(GgufWriter, RoundTripInMemory) {
    std::vector<uint8_t> f32_data, q8_data;
    Writer w = make_writer(f32_data, q8_data);
    auto bytes = w.to_bytes();
    auto f = File::from_memory(bytes.data(), bytes.size());
    check_round_trip(*f, f32_data, q8_data);
}

TEST(GgufWriter, RoundTripThroughFile) {
    std::vector<uint8_t> f32_data, q8_data;
    Writer w = make_writer(f32_data, q8_data);
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("hearth_gguf_writer_" + std::to_string(::getpid()) + ".gguf")).string();
    w.write(path);
    {
        auto f = File::open(path);
        check_round_trip(*f, f32_data, q8_data);
        auto g = File::open(path, {.use_mmap = false});
        check_round_trip(*g, f32_data, q8_data);
        EXPECT_EQ(f->file_size(), w.to_bytes().size());
    }
    std::filesystem::remove(path);
}

TEST(GgufWriter, CustomAlignment) {
    Writer w;
    w.set("general.alignment", Value::u32(256));
    std::vector<uint8_t> d(4 * 3, 1);
    w.add_tensor("a", DType::F32, {3}, d.data(), d.size());
    w.add_tensor("b", DType::F32, {3}, d.data(), d.size());
    auto bytes = w.to_bytes();
    auto f = File::from_memory(bytes.data(), bytes.size());
    EXPECT_EQ(f->alignment(), 256u);
    EXPECT_EQ(f->data_offset() % 256, 0u);
    EXPECT_EQ(f->find_tensor("b")->offset, 256u);
}

TEST(GgufWriter, RejectsBadInput) {
    Writer w;
    EXPECT_THROW(w.set("", Value::u32(1)), Error);
    std::vector<uint8_t> d(64);
    EXPECT_THROW(w.add_tensor("x", DType::Q4_0, {33}, d.data(), d.size()), Error);  // not a block multiple
    EXPECT_THROW(w.add_tensor("x", DType::F32, {}, d.data(), 0), Error);
    EXPECT_THROW(w.add_tensor("x", DType::F32, {0}, d.data(), 0), Error);
    EXPECT_THROW(w.add_tensor("x", DType::F32, {1, 1, 1, 1, 1}, d.data(), 4), Error);
    EXPECT_THROW(w.add_tensor("x", DType::F32, {4}, d.data(), 15), Error);  // wrong byte count
    w.add_tensor("x", DType::F32, {4}, d.data(), 16);
    EXPECT_THROW(w.add_tensor("x", DType::F32, {4}, d.data(), 16), Error);  // duplicate
    w.set("general.alignment", Value::u32(3));
    EXPECT_THROW(w.to_bytes(), Error);
    try {
        Writer ok;
        ok.write("/nonexistent-dir/out.gguf");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
    }
}

}  // namespace
}  // namespace hearth::gguf
