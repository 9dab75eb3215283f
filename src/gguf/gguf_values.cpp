// GGUF metadata values: type names, type classes and the Value constructors used by writers/tests.
// Kept apart from the reader so code that only builds metadata does not pull in parsing.
#include <utility>

#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::gguf {

const char* value_type_name(ValueType type) {
    switch (type) {
        case ValueType::UInt8: return "u8";
        case ValueType::Int8: return "i8";
        case ValueType::UInt16: return "u16";
        case ValueType::Int16: return "i16";
        case ValueType::UInt32: return "u32";
        case ValueType::Int32: return "i32";
        case ValueType::Float32: return "f32";
        case ValueType::Bool: return "bool";
        case ValueType::String: return "string";
        case ValueType::Array: return "array";
        case ValueType::UInt64: return "u64";
        case ValueType::Int64: return "i64";
        case ValueType::Float64: return "f64";
    }
    return "unknown";
}

bool is_integer_type(ValueType type) {
    switch (type) {
        case ValueType::UInt8:
        case ValueType::Int8:
        case ValueType::UInt16:
        case ValueType::Int16:
        case ValueType::UInt32:
        case ValueType::Int32:
        case ValueType::UInt64:
        case ValueType::Int64: return true;
        default: return false;
    }
}

bool is_float_type(ValueType type) { return type == ValueType::Float32 || type == ValueType::Float64; }

size_t Value::array_size() const {
    if (type != ValueType::Array) return 0;
    if (array_type == ValueType::String) return strings.size();
    if (array_type == ValueType::Bool) return bools.size();
    if (is_float_type(array_type)) return floats.size();
    return ints.size();
}

bool Value::is_integer() const { return is_integer_type(type); }

namespace {
Value scalar_value(ValueType type, decltype(Value::scalar) v) {
    Value out;
    out.type = type;
    out.scalar = std::move(v);
    return out;
}
}  // namespace

Value Value::u32(uint32_t v) { return scalar_value(ValueType::UInt32, uint64_t{v}); }
Value Value::i32(int32_t v) { return scalar_value(ValueType::Int32, int64_t{v}); }
Value Value::u64(uint64_t v) { return scalar_value(ValueType::UInt64, v); }
Value Value::f32(float v) { return scalar_value(ValueType::Float32, double{v}); }
Value Value::boolean(bool v) { return scalar_value(ValueType::Bool, v); }
Value Value::str(std::string v) { return scalar_value(ValueType::String, std::move(v)); }

Value Value::string_array(std::vector<std::string> v) {
    Value out;
    out.type = ValueType::Array;
    out.array_type = ValueType::String;
    out.strings = std::move(v);
    return out;
}

Value Value::int_array(ValueType element_type, std::vector<int64_t> v) {
    if (!is_integer_type(element_type))
        throw Error(ErrorKind::InvalidArgument,
                    std::string("Value::int_array: element type ") + value_type_name(element_type) +
                        " is not an integer type");
    Value out;
    out.type = ValueType::Array;
    out.array_type = element_type;
    out.ints = std::move(v);
    return out;
}

Value Value::float_array(std::vector<double> v) {
    Value out;
    out.type = ValueType::Array;
    out.array_type = ValueType::Float32;
    out.floats = std::move(v);
    return out;
}

}  // namespace hearth::gguf
