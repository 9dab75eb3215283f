// The Jinja value model: what a template variable can hold (undefined, none, bool, int, float,
// string, list/tuple, dict/namespace, callable), with Python's truthiness, equality and ordering,
// since templates are written against Python's jinja2 and must behave identically.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::jinja {

class Value;
class Interpreter;

// Arguments of a call: positional values, then keyword values in call order.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keywords;
};

using NativeFn = std::function<Value(Interpreter&, CallArgs&)>;

// A list (or tuple: the same storage, printed with parentheses). Shared by reference, like Python.
struct Array {
    std::vector<Value> items;
    bool is_tuple = false;
    int depth = 1;  // nesting depth (1 + deepest child); bounded so recursion over values is safe
};

constexpr int kMaxValueDepth = 256;
int value_depth(const Value& v);  // 0 for scalars

// A dict with Python's insertion order. Keys are strings (chat templates index by string keys;
// other key types are converted to their str() on insertion). A namespace() is a dict whose
// attributes may be assigned with `{% set ns.attr = ... %}`.
struct Object {
    std::vector<std::pair<std::string, Value>> entries;  // insertion order
    std::unordered_map<std::string, size_t> index;      // key -> position in entries
    bool is_namespace = false;
    int depth = 1;  // see Array::depth
    // Keys written as non-strings in a dict literal ({4096: 512}) keep their value here, keyed by
    // their str(): iteration, items() and dictsort then yield the int/float/bool key, as Python.
    std::shared_ptr<std::unordered_map<std::string, Value>> typed_keys;

    const Value* find(std::string_view key) const;
    Value key_value(const std::string& key) const;  // the key as a Value (usually a string)
    void set(const std::string& key, Value v);
    bool erase(const std::string& key);
};

struct Function {
    std::string name;  // for error messages and printing
    NativeFn call;
};

class Value {
public:
    enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, Array, Object, Function };

    Value() = default;  // undefined
    static Value undefined(std::string name = {});
    static Value none();
    Value(bool b);
    Value(int v) : Value(static_cast<int64_t>(v)) {}
    Value(int64_t v);
    Value(double v);
    Value(std::string s);
    Value(const char* s) : Value(std::string(s)) {}
    static Value array(std::vector<Value> items = {}, bool is_tuple = false);
    static Value object();
    static Value namespace_object();
    static Value function(std::string name, NativeFn fn);
    static Value from_json(const nlohmann::ordered_json& j);
    // A markupsafe.Markup string (from |safe or |escape): `Markup + str` HTML-escapes the str.
    static Value markup(std::string s);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::Undefined; }
    bool is_none() const { return kind_ == Kind::None; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_int() const { return kind_ == Kind::Int; }
    bool is_float() const { return kind_ == Kind::Float; }
    bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_markup() const { return kind_ == Kind::String && b_; }
    bool is_array() const { return kind_ == Kind::Array; }
    bool is_object() const { return kind_ == Kind::Object; }
    bool is_function() const { return kind_ == Kind::Function; }

    bool as_bool() const { return b_; }
    int64_t as_int() const;   // bool/int; floats truncate toward zero
    double as_float() const;  // any number
    const std::string& str() const { return s_; }  // strings; for undefined: the missing name
    Array& arr() const { return *arr_; }
    Object& obj() const { return *obj_; }
    Function& fn() const { return *fn_; }
    const std::shared_ptr<Array>& arr_ptr() const { return arr_; }
    const std::shared_ptr<Object>& obj_ptr() const { return obj_; }

    bool truthy() const;          // Python bool()
    const char* type_name() const;  // Python type name, for error messages

private:
    Kind kind_ = Kind::Undefined;
    bool b_ = false;
    int64_t i_ = 0;
    double f_ = 0.0;
    std::string s_;
    std::shared_ptr<Array> arr_;
    std::shared_ptr<Object> obj_;
    std::shared_ptr<Function> fn_;
};

// True when `v` is, or (through lists/dicts) contains, the container at `target`: storing v in that
// container would create a reference cycle, which hearth refuses (no leaks, no endless printing).
bool value_reaches(const Value& v, const void* target);

// Python ==. Numbers compare by value across int/float/bool; lists elementwise; dicts by content.
bool values_equal(const Value& a, const Value& b);
// Python <: returns -1/0/1; throws Error (InvalidArgument) where Python raises TypeError.
int values_compare(const Value& a, const Value& b);

}  // namespace hearth::jinja
