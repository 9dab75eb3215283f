// GGUF files in and out: a hardened reader (mmap or read, optional mlock) and a writer.
// The reader trusts nothing in the file: every read is bounds-checked, counts and lengths are
// limited before any allocation, dimension products are overflow-checked, and every failure throws
// hearth::Error(ErrorKind::InvalidFile) naming the key or tensor and the byte offset.
//
// File layout (all little-endian):
//   magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   n_kv × { string key | u32 value_type | value }
//   n_tensors × { string name | u32 n_dims | n_dims × u64 ne | u32 dtype | u64 offset }
//   padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "quant/dtype.h"

namespace hearth::gguf {

enum class ValueType : uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};
const char* value_type_name(ValueType type);
bool is_integer_type(ValueType type);  // UInt8..Int64 (not Bool)
bool is_float_type(ValueType type);    // Float32 / Float64

// One metadata value. Scalars keep their declared GGUF type; integers are widened into
// uint64/int64 and floats into double for storage. Arrays hold elements of one scalar or string
// type (arrays of arrays are rejected by the reader).
struct Value {
    ValueType type = ValueType::UInt32;
    ValueType array_type = ValueType::UInt32;  // element type when type == Array
    std::variant<uint64_t, int64_t, double, bool, std::string> scalar;  // when type != Array
    // Array storage, by element kind: exactly one of these is used when type == Array.
    std::vector<int64_t> ints;       // all integer element types (u64 above INT64_MAX is rejected)
    std::vector<double> floats;      // Float32 / Float64 elements
    std::vector<uint8_t> bools;      // Bool elements
    std::vector<std::string> strings;  // String elements
    bool non_utf8 = false;  // set by the reader: a string (element) is not valid UTF-8 (allowed)

    size_t array_size() const;
    bool is_integer() const;  // scalar of one of the eight integer types
    // Constructors for writers and tests.
    static Value u32(uint32_t v);
    static Value i32(int32_t v);
    static Value u64(uint64_t v);
    static Value f32(float v);
    static Value boolean(bool v);
    static Value str(std::string v);
    static Value string_array(std::vector<std::string> v);
    static Value int_array(ValueType element_type, std::vector<int64_t> v);
    static Value float_array(std::vector<double> v);  // stored as Float32 elements
};

struct KeyValue {
    std::string key;
    Value value;
    uint64_t file_offset = 0;  // where the key starts in the file (for messages)
};

struct TensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (innermost) dimension
    DType type = DType::F32;
    uint64_t offset = 0;           // relative to the data section
    uint64_t nbytes = 0;           // exact byte size of the data
    uint64_t info_offset = 0;      // where this tensor's info record starts in the file

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

struct OpenOptions {
    bool use_mmap = true;  // false: read the whole file into memory (--no-mmap)
    bool mlock = false;    // lock the pages; on failure a warning is recorded, loading goes on
};

class File {
public:
    // Parse a file on disk. Throws hearth::Error (InvalidFile for bad contents, Io when the OS
    // refuses to open or map it).
    static std::unique_ptr<File> open(const std::string& path, const OpenOptions& options = {});
    // Parse bytes already in memory (tests, fuzzing). The bytes are copied.
    static std::unique_ptr<File> from_memory(const void* data, size_t size);

    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return size_; }
    const std::string& path() const { return path_; }
    bool is_mmapped() const { return mmapped_; }
    bool is_mlocked() const { return mlocked_; }
    // Non-empty when --mlock was asked for and the OS refused (e.g. ulimit -l); says what to do.
    const std::string& mlock_warning() const { return mlock_warning_; }

    // Non-fatal findings of the reader (e.g. a string value that is not valid UTF-8).
    const std::vector<std::string>& warnings() const { return warnings_; }

    const std::vector<KeyValue>& kvs() const { return kvs_; }
    const Value* find(std::string_view key) const;

    // Typed getters: std::nullopt when the key is absent; throw InvalidFile naming the key when it
    // is present with an incompatible type (e.g. a string where an integer is expected).
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<uint64_t> get_uint(std::string_view key) const;  // any integer type, >= 0
    std::optional<int64_t> get_int(std::string_view key) const;    // any integer type
    std::optional<double> get_float(std::string_view key) const;   // Float32/Float64 (or integer)
    std::optional<bool> get_bool(std::string_view key) const;
    const std::vector<std::string>* get_string_array(std::string_view key) const;
    const std::vector<int64_t>* get_int_array(std::string_view key) const;
    const std::vector<double>* get_float_array(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;
    // Pointer to the tensor's bytes (inside the mapping or the in-memory copy).
    const uint8_t* tensor_data(const TensorInfo& info) const;
    const uint8_t* base() const { return data_; }

private:
    File() = default;
    void parse();

    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    bool mmapped_ = false;
    bool mlocked_ = false;
    std::string mlock_warning_;
    std::vector<uint8_t> owned_;  // backing store when not mmapped
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kvs_;
    std::vector<TensorInfo> tensors_;
    std::vector<std::string> warnings_;
    std::unordered_map<std::string_view, size_t> kv_index_;      // key -> index in kvs_
    std::unordered_map<std::string_view, size_t> tensor_index_;  // name -> index in tensors_
};

// Writes GGUF v3. KVs are written in insertion order (a repeated key replaces the earlier value);
// tensors are laid out in insertion order, each aligned to the alignment (general.alignment when set,
// else 32). Tensor bytes come from a callback so large models stream without a second copy.
class Writer {
public:
    using DataFn = std::function<void(uint8_t* dst, size_t nbytes)>;

    void set(std::string key, Value value);
    void add_tensor(std::string name, DType type, std::vector<int64_t> shape, DataFn fill);
    // Convenience: writes the caller's bytes at data, which are NOT copied: they must stay alive and
    // unchanged until write() / to_bytes() returns.
    void add_tensor(std::string name, DType type, std::vector<int64_t> shape, const void* data,
                    size_t nbytes);

    // Writes to path (via a temporary file renamed into place). Throws Error(Io) on failure.
    void write(const std::string& path) const;
    // Serializes into memory (tests).
    std::vector<uint8_t> to_bytes() const;

private:
    struct PendingTensor {
        std::string name;
        DType type;
        std::vector<int64_t> shape;
        uint64_t nbytes;
        DataFn fill;
    };
    std::vector<KeyValue> kvs_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace hearth::gguf
