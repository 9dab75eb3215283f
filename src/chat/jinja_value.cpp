// Jinja values: construction, JSON conversion, and Python's truthiness / == / < semantics.
#include "chat/jinja_value.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja_format.h"
#include "core/error.h"

namespace hearth::jinja {

const Value* Object::find(std::string_view key) const {
    auto it = index.find(std::string(key));
    if (it == index.end()) return nullptr;
    return &entries[it->second].second;
}

Value Object::key_value(const std::string& key) const {
    if (typed_keys) {
        auto it = typed_keys->find(key);
        if (it != typed_keys->end()) return it->second;
    }
    return Value(key);
}

int value_depth(const Value& v) {
    if (v.is_array()) return v.arr().depth;
    if (v.is_object()) return v.obj().depth;
    return 0;
}

static int checked_depth(int d) {
    if (d > kMaxValueDepth)
        throw Error(ErrorKind::InvalidArgument, "template: value nested deeper than " + std::to_string(kMaxValueDepth));
    return d;
}

void Object::set(const std::string& key, Value v) {
    depth = std::max(depth, checked_depth(value_depth(v) + 1));
    auto it = index.find(key);
    if (it != index.end()) {
        entries[it->second].second = std::move(v);
        return;
    }
    index.emplace(key, entries.size());
    entries.emplace_back(key, std::move(v));
}

bool Object::erase(const std::string& key) {
    auto it = index.find(key);
    if (it == index.end()) return false;
    size_t pos = it->second;
    entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(pos));
    index.erase(it);
    for (auto& [k, p] : index)
        if (p > pos) --p;
    return true;
}

Value Value::undefined(std::string name) {
    Value v;
    v.s_ = std::move(name);
    return v;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}

Value::Value(bool b) : kind_(Kind::Bool), b_(b) {}
Value::Value(int64_t v) : kind_(Kind::Int), i_(v) {}
Value::Value(double v) : kind_(Kind::Float), f_(v) {}
Value::Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}

Value Value::markup(std::string s) {
    Value v(std::move(s));
    v.b_ = true;
    return v;
}

Value Value::array(std::vector<Value> items, bool is_tuple) {
    Value v;
    v.kind_ = Kind::Array;
    v.arr_ = std::make_shared<Array>();
    v.arr_->items = std::move(items);
    v.arr_->is_tuple = is_tuple;
    for (const auto& e : v.arr_->items) v.arr_->depth = std::max(v.arr_->depth, checked_depth(value_depth(e) + 1));
    return v;
}

Value Value::object() {
    Value v;
    v.kind_ = Kind::Object;
    v.obj_ = std::make_shared<Object>();
    return v;
}

Value Value::namespace_object() {
    Value v = object();
    v.obj_->is_namespace = true;
    return v;
}

Value Value::function(std::string name, NativeFn fn) {
    Value v;
    v.kind_ = Kind::Function;
    v.fn_ = std::make_shared<Function>();
    v.fn_->name = std::move(name);
    v.fn_->call = std::move(fn);
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            Value a = array();
            a.arr().items.reserve(j.size());
            for (const auto& e : j) a.arr().items.push_back(from_json(e));
            return a;
        }
        case nlohmann::ordered_json::value_t::object: {
            Value o = object();
            for (auto it = j.begin(); it != j.end(); ++it) o.obj().set(it.key(), from_json(it.value()));
            return o;
        }
        default: return none();  // binary / discarded: not produced by JSON text
    }
}

int64_t Value::as_int() const {
    switch (kind_) {
        case Kind::Bool: return b_ ? 1 : 0;
        case Kind::Int: return i_;
        case Kind::Float:
            if (!std::isfinite(f_) || std::fabs(f_) >= 9.2e18)
                throw Error(ErrorKind::InvalidArgument, "template: float too large to convert to int");
            return static_cast<int64_t>(f_);
        default: return 0;
    }
}

double Value::as_float() const {
    switch (kind_) {
        case Kind::Bool: return b_ ? 1.0 : 0.0;
        case Kind::Int: return static_cast<double>(i_);
        case Kind::Float: return f_;
        default: return 0.0;
    }
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return b_;
        case Kind::Int: return i_ != 0;
        case Kind::Float: return f_ != 0.0;
        case Kind::String: return !s_.empty();
        case Kind::Array: return !arr_->items.empty();
        case Kind::Object: return obj_->is_namespace || !obj_->entries.empty();
        case Kind::Function: return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (kind_) {
        case Kind::Undefined: return "Undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::Array: return arr_->is_tuple ? "tuple" : "list";
        case Kind::Object: return obj_->is_namespace ? "Namespace" : "dict";
        case Kind::Function: return "function";
    }
    return "object";
}

static bool reaches(const Value& v, const void* target, int depth) {
    if (depth > 256) return true;  // absurdly deep: treat as unsafe
    if (v.is_array()) {
        if (v.arr_ptr().get() == target) return true;
        for (const auto& e : v.arr().items)
            if ((e.is_array() || e.is_object()) && reaches(e, target, depth + 1)) return true;
    } else if (v.is_object()) {
        if (v.obj_ptr().get() == target) return true;
        for (const auto& [k, e] : v.obj().entries)
            if ((e.is_array() || e.is_object()) && reaches(e, target, depth + 1)) return true;
    }
    return false;
}

bool value_reaches(const Value& v, const void* target) { return reaches(v, target, 0); }

static void check_depth(int depth) {
    if (depth > 512) throw Error(ErrorKind::InvalidArgument, "template: value nested too deeply to compare");
}

static bool equal_at(const Value& a, const Value& b, int depth);
bool values_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }

static bool equal_at(const Value& a, const Value& b, int depth) {
    using K = Value::Kind;
    check_depth(depth);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case K::Undefined:
        case K::None: return true;
        case K::String: return a.str() == b.str();
        case K::Array: {
            const auto& x = a.arr().items;
            const auto& y = b.arr().items;
            if (a.arr().is_tuple != b.arr().is_tuple || x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (!equal_at(x[i], y[i], depth + 1)) return false;
            return true;
        }
        case K::Object: {
            if (a.obj_ptr() == b.obj_ptr()) return true;
            if (a.obj().is_namespace || b.obj().is_namespace) return false;  // identity only
            if (a.obj().entries.size() != b.obj().entries.size()) return false;
            for (const auto& [k, v] : a.obj().entries) {
                const Value* o = b.obj().find(k);
                if (!o || !equal_at(v, *o, depth + 1)) return false;
            }
            return true;
        }
        case K::Function: return &a.fn() == &b.fn();
        default: return false;
    }
}

static int compare_at(const Value& a, const Value& b, int depth);
int values_compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

static int compare_at(const Value& a, const Value& b, int depth) {
    check_depth(depth);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            double x = a.as_float(), y = b.as_float();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.str().compare(b.str());  // UTF-8 byte order == code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_array() && b.is_array() && a.arr().is_tuple == b.arr().is_tuple) {
        const auto& x = a.arr().items;
        const auto& y = b.arr().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (equal_at(x[i], y[i], depth + 1)) continue;
            return compare_at(x[i], y[i], depth + 1);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    throw Error(ErrorKind::InvalidArgument, std::string("template: '<' not supported between instances of '") +
                                                a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace hearth::jinja
