// The hardened GGUF parser (File::parse) and the typed metadata getters. Nothing in the file is
// trusted: counts are bounded by the bytes left before allocating, dimension products are
// overflow-checked, tensor data must be aligned, inside the file and non-overlapping.
#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/utf8.h"
#include "gguf/gguf.h"
#include "gguf/gguf_cursor.h"
#include "gguf/gguf_schema.h"

namespace hearth::gguf {
namespace {

using detail::Cursor;

constexpr uint32_t kMaxValueType = static_cast<uint32_t>(ValueType::Float64);

// Bytes of one element of a scalar type in the file; strings count their 8-byte length prefix.
uint64_t min_encoded_bytes(ValueType t) {
    switch (t) {
        case ValueType::UInt8:
        case ValueType::Int8:
        case ValueType::Bool: return 1;
        case ValueType::UInt16:
        case ValueType::Int16: return 2;
        case ValueType::UInt32:
        case ValueType::Int32:
        case ValueType::Float32: return 4;
        case ValueType::UInt64:
        case ValueType::Int64:
        case ValueType::Float64:
        case ValueType::String: return 8;
        case ValueType::Array: return 12;
    }
    return 1;
}

bool is_signed_type(ValueType t) {
    return t == ValueType::Int8 || t == ValueType::Int16 || t == ValueType::Int32 || t == ValueType::Int64;
}

// Reads one integer of type t: signed types sign-extended into int64, unsigned into uint64.
int64_t read_signed(Cursor& c, ValueType t) {
    switch (t) {
        case ValueType::Int8: return c.read<int8_t>("i8 value");
        case ValueType::Int16: return c.read<int16_t>("i16 value");
        case ValueType::Int32: return c.read<int32_t>("i32 value");
        default: return c.read<int64_t>("i64 value");
    }
}
uint64_t read_unsigned(Cursor& c, ValueType t) {
    switch (t) {
        case ValueType::UInt8: return c.read<uint8_t>("u8 value");
        case ValueType::UInt16: return c.read<uint16_t>("u16 value");
        case ValueType::UInt32: return c.read<uint32_t>("u32 value");
        default: return c.read<uint64_t>("u64 value");
    }
}

bool read_bool(Cursor& c) {
    const uint64_t at = c.pos();
    const uint8_t b = c.u8("bool value");
    if (b > 1) c.fail_at(at, "bool value is " + std::to_string(b) + ", must be 0 or 1");
    return b == 1;
}

double read_float(Cursor& c, ValueType t) {
    if (t == ValueType::Float32) return c.read<float>("f32 value");
    return c.read<double>("f64 value");
}

ValueType read_value_type(Cursor& c, const char* what) {
    const uint64_t at = c.pos();
    const uint32_t raw = c.u32(what);
    if (raw > kMaxValueType) c.fail_at(at, "unknown value type " + std::to_string(raw));
    return static_cast<ValueType>(raw);
}

void read_array(Cursor& c, Value& v) {
    const uint64_t type_at = c.pos();
    v.array_type = read_value_type(c, "array element type");
    if (v.array_type == ValueType::Array) c.fail_at(type_at, "arrays of arrays are not allowed");
    const uint64_t count_at = c.pos();
    const uint64_t n = c.u64("array length");
    const uint64_t elem = min_encoded_bytes(v.array_type);
    if (n > c.remaining() / elem)
        c.fail_at(count_at, "array length " + std::to_string(n) + " of " + value_type_name(v.array_type) +
                                " needs at least " + std::to_string(elem) + " bytes per element but only " +
                                std::to_string(c.remaining()) + " bytes remain");
    if (n > detail::kMaxArrayElems)
        c.fail_at(count_at, "array length " + std::to_string(n) + " exceeds the limit of " +
                                std::to_string(detail::kMaxArrayElems));
    const ValueType t = v.array_type;
    if (t == ValueType::String) {
        v.strings.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
            std::string_view s = c.string(detail::kMaxStringBytes, "string element");
            if (!v.non_utf8 && !utf8::is_valid(s)) v.non_utf8 = true;
            v.strings.emplace_back(s);
        }
    } else if (t == ValueType::Bool) {
        v.bools.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.bools.push_back(read_bool(c) ? 1 : 0);
    } else if (is_float_type(t)) {
        v.floats.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.floats.push_back(read_float(c, t));
    } else if (is_signed_type(t)) {
        v.ints.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.ints.push_back(read_signed(c, t));
    } else {
        v.ints.reserve(n);
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t at = c.pos();
            const uint64_t x = read_unsigned(c, t);
            if (x > static_cast<uint64_t>(INT64_MAX))
                c.fail_at(at, "array element " + std::to_string(i) + " (" + std::to_string(x) +
                                  ") does not fit in int64");
            v.ints.push_back(static_cast<int64_t>(x));
        }
    }
}

Value read_value(Cursor& c) {
    Value v;
    v.type = read_value_type(c, "value type");
    switch (v.type) {
        case ValueType::Array: read_array(c, v); break;
        case ValueType::String: {
            std::string_view s = c.string(detail::kMaxStringBytes, "string value");
            v.non_utf8 = !utf8::is_valid(s);
            v.scalar = std::string(s);
            break;
        }
        case ValueType::Bool: v.scalar = read_bool(c); break;
        case ValueType::Float32:
        case ValueType::Float64: v.scalar = read_float(c, v.type); break;
        default:
            if (is_signed_type(v.type)) v.scalar = read_signed(c, v.type);
            else v.scalar = read_unsigned(c, v.type);
    }
    return v;
}

uint64_t checked_mul(uint64_t a, uint64_t b, bool& overflow) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) overflow = true;
    return r;
}

}  // namespace

void File::parse() {
    Cursor c(data_, size_);
    c.set_context("header");
    if (size_ < 4) c.fail_at(0, "file is " + std::to_string(size_) + " bytes, too small for a GGUF header");
    const std::string_view magic = c.bytes(4, "magic");
    if (magic != "GGUF") {
        std::string shown;
        for (char ch : magic) shown += (ch >= 32 && ch < 127) ? ch : '?';
        c.fail_at(0, "not a GGUF file (magic is '" + shown + "', expected 'GGUF')");
    }
    const uint32_t version = c.u32("version");
    if (version != 2 && version != 3) {
        const uint32_t swapped = __builtin_bswap32(version);
        if (swapped >= 1 && swapped <= 3)
            c.fail_at(4, "byte-swapped (big-endian) GGUF (version reads as " + std::to_string(version) +
                             ", byte-swapped " + std::to_string(swapped) +
                             "); hearth reads little-endian GGUF files only");
        if (version == 1)
            c.fail_at(4, "GGUF version 1 is not supported (32-bit counts); re-convert the model to GGUF v3");
        c.fail_at(4, "unsupported GGUF version " + std::to_string(version) + " (hearth reads versions 2 and 3)");
    }
    version_ = version;

    const uint64_t n_tensors = c.u64("tensor count");
    const uint64_t n_kv = c.u64("metadata count");
    if (n_tensors > detail::kMaxTensorCount || n_tensors > c.remaining() / detail::kMinTensorInfoBytes)
        c.fail_at(8, "tensor count " + std::to_string(n_tensors) + " is impossible for the " +
                         std::to_string(c.remaining()) + " bytes left in the file (truncated or corrupt)");
    if (n_kv > detail::kMaxKvCount || n_kv > c.remaining() / detail::kMinKvBytes)
        c.fail_at(16, "metadata count " + std::to_string(n_kv) + " is impossible for the " +
                          std::to_string(c.remaining()) + " bytes left in the file (truncated or corrupt)");

    // ---- metadata ---------------------------------------------------------------------------
    // kvs_ never reallocates after this reserve, so kv_index_ can point at its keys.
    kvs_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t at = c.pos();
        c.set_context("metadata entry #" + std::to_string(i));
        std::string_view key = c.string(detail::kMaxKeyBytes, "key");
        if (key.empty()) c.fail_at(at, "empty key");
        if (!utf8::is_valid(key)) c.fail_at(at, "key is not valid UTF-8");
        c.set_context("key '" + std::string(key) + "'");
        KeyValue kv;
        kv.key = std::string(key);
        kv.file_offset = at;
        kv.value = read_value(c);
        if (kv.value.non_utf8)
            warnings_.push_back("key '" + kv.key + "' (at byte offset " + std::to_string(at) +
                                ") holds a string that is not valid UTF-8");
        kvs_.push_back(std::move(kv));
        const KeyValue& stored = kvs_.back();
        auto [it, inserted] = kv_index_.emplace(std::string_view(stored.key), kvs_.size() - 1);
        if (!inserted)
            c.fail_at(at, "duplicate key (first defined at byte offset " +
                              std::to_string(kvs_[it->second].file_offset) + ")");
    }

    alignment_ = 32;
    if (auto it = kv_index_.find("general.alignment"); it != kv_index_.end())
        alignment_ = detail::check_alignment(kvs_[it->second]);
    std::string arch;
    if (const Value* a = find("general.architecture"); a && a->type == ValueType::String)
        arch = std::get<std::string>(a->scalar);
    detail::check_well_known_keys(kvs_, arch);

    // ---- tensor infos -----------------------------------------------------------------------
    tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t at = c.pos();
        c.set_context("tensor info #" + std::to_string(i));
        std::string_view name = c.string(detail::kMaxTensorNameBytes, "tensor name");
        if (name.empty()) c.fail_at(at, "empty tensor name");
        if (!utf8::is_valid(name)) c.fail_at(at, "tensor name is not valid UTF-8");
        c.set_context("tensor '" + std::string(name) + "'");
        TensorInfo t;
        t.name = std::string(name);
        t.info_offset = at;
        const uint64_t dims_at = c.pos();
        t.n_dims = c.u32("n_dims");
        if (t.n_dims < 1 || t.n_dims > 4)
            c.fail_at(dims_at, "n_dims is " + std::to_string(t.n_dims) + ", must be 1..4");
        bool overflow = false;
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            const uint64_t ne_at = c.pos();
            const uint64_t ne = c.u64("dimension");
            if (ne == 0) c.fail_at(ne_at, "dimension " + std::to_string(d) + " is 0");
            if (ne > static_cast<uint64_t>(INT64_MAX))
                c.fail_at(ne_at, "dimension " + std::to_string(d) + " is negative (" +
                                     std::to_string(static_cast<int64_t>(ne)) + " as int64)");
            n_elements = checked_mul(n_elements, ne, overflow);
            if (overflow || n_elements > static_cast<uint64_t>(INT64_MAX))
                c.fail_at(ne_at, "element count overflows at dimension " + std::to_string(d));
            t.ne[d] = static_cast<int64_t>(ne);
        }
        const uint64_t type_at = c.pos();
        const uint32_t type_id = c.u32("tensor type");
        const DTypeTraits* traits = dtype_traits_by_id(type_id);
        if (!traits) c.fail_at(type_at, "unknown tensor type " + std::to_string(type_id));
        t.type = traits->type;
        if (t.ne[0] % traits->block_elems != 0)
            c.fail_at(dims_at, "dimension 0 (" + std::to_string(t.ne[0]) + ") is not a multiple of the " +
                                   traits->name + " block size " + std::to_string(traits->block_elems));
        const uint64_t rows = n_elements / static_cast<uint64_t>(t.ne[0]);
        const uint64_t row_bytes =
            checked_mul(static_cast<uint64_t>(t.ne[0]) / traits->block_elems, traits->block_bytes, overflow);
        t.nbytes = checked_mul(rows, row_bytes, overflow);
        if (overflow) c.fail_at(dims_at, "byte size overflows");
        t.offset = c.u64("tensor offset");
        tensors_.push_back(std::move(t));
        const TensorInfo& stored = tensors_.back();
        auto [it, inserted] = tensor_index_.emplace(std::string_view(stored.name), tensors_.size() - 1);
        if (!inserted)
            c.fail_at(at, "duplicate tensor name (first defined at byte offset " +
                              std::to_string(tensors_[it->second].info_offset) + ")");
    }

    // ---- data section -----------------------------------------------------------------------
    const uint64_t end_of_infos = c.pos();
    data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;  // no overflow: pos < 2^63
    if (tensors_.empty()) {
        data_offset_ = std::min(data_offset_, size_);  // vocab-only files may omit the padding
        return;
    }
    c.set_context("data section");
    if (data_offset_ > size_)
        c.fail_at(end_of_infos, "data section would start at " + std::to_string(data_offset_) +
                                    ", beyond the end of the file (" + std::to_string(size_) + " bytes)");
    const uint64_t data_bytes = size_ - data_offset_;
    std::vector<size_t> order(tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
        const TensorInfo& t = tensors_[i];
        c.set_context("tensor '" + t.name + "'");
        if (t.offset % alignment_ != 0)
            c.fail_at(t.info_offset, "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                         std::to_string(alignment_));
        if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset)
            c.fail_at(t.info_offset, "data [" + std::to_string(t.offset) + ", +" + std::to_string(t.nbytes) +
                                         ") lies outside the " + std::to_string(data_bytes) +
                                         "-byte data section");
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
        const TensorInfo& prev = tensors_[order[k - 1]];
        const TensorInfo& cur = tensors_[order[k]];
        if (prev.offset + prev.nbytes > cur.offset) {
            c.set_context("tensor '" + cur.name + "'");
            c.fail_at(cur.info_offset, "data at offset " + std::to_string(cur.offset) + " overlaps tensor '" +
                                           prev.name + "' [" + std::to_string(prev.offset) + ", +" +
                                           std::to_string(prev.nbytes) + ")");
        }
    }
}

// ---- lookups and typed getters -------------------------------------------------------------

namespace {
[[noreturn]] void wrong_type(std::string_view key, const Value& v, const char* wanted) {
    std::string found = v.type == ValueType::Array ? std::string("array of ") + value_type_name(v.array_type)
                                                   : std::string(value_type_name(v.type));
    throw Error(ErrorKind::InvalidFile,
                "gguf: key '" + std::string(key) + "' is " + found + ", expected " + wanted);
}
}  // namespace

const Value* File::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* File::tensor_data(const TensorInfo& info) const {
    // Offsets were validated by parse(); a TensorInfo from elsewhere is a caller bug.
    HEARTH_ASSERT(info.offset <= size_ - data_offset_ && info.nbytes <= size_ - data_offset_ - info.offset);
    return data_ + data_offset_ + info.offset;
}

std::optional<std::string> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::String) wrong_type(key, *v, "a string");
    return std::get<std::string>(v->scalar);
}

std::optional<uint64_t> File::get_uint(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!is_integer_type(v->type)) wrong_type(key, *v, "an integer");
    if (const auto* i = std::get_if<int64_t>(&v->scalar)) {
        if (*i < 0)
            throw Error(ErrorKind::InvalidFile,
                        "gguf: key '" + std::string(key) + "' is " + std::to_string(*i) + ", expected >= 0");
        return static_cast<uint64_t>(*i);
    }
    return std::get<uint64_t>(v->scalar);
}

std::optional<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!is_integer_type(v->type)) wrong_type(key, *v, "an integer");
    if (const auto* u = std::get_if<uint64_t>(&v->scalar)) {
        if (*u > static_cast<uint64_t>(INT64_MAX))
            throw Error(ErrorKind::InvalidFile,
                        "gguf: key '" + std::string(key) + "' is " + std::to_string(*u) + ", too large for int64");
        return static_cast<int64_t>(*u);
    }
    return std::get<int64_t>(v->scalar);
}

std::optional<double> File::get_float(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (is_float_type(v->type)) return std::get<double>(v->scalar);
    if (!is_integer_type(v->type)) wrong_type(key, *v, "a number");
    if (const auto* u = std::get_if<uint64_t>(&v->scalar)) return static_cast<double>(*u);
    return static_cast<double>(std::get<int64_t>(v->scalar));
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::Bool) wrong_type(key, *v, "a bool");
    return std::get<bool>(v->scalar);
}

const std::vector<std::string>* File::get_string_array(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return nullptr;
    if (v->type != ValueType::Array || v->array_type != ValueType::String) wrong_type(key, *v, "an array of strings");
    return &v->strings;
}

const std::vector<int64_t>* File::get_int_array(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return nullptr;
    if (v->type != ValueType::Array || !is_integer_type(v->array_type)) wrong_type(key, *v, "an array of integers");
    return &v->ints;
}

const std::vector<double>* File::get_float_array(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return nullptr;
    if (v->type != ValueType::Array || !is_float_type(v->array_type)) wrong_type(key, *v, "an array of floats");
    return &v->floats;
}

}  // namespace hearth::gguf
