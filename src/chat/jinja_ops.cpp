// Jinja arithmetic and concatenation operators with Python semantics (int/float promotion, floor
// division and modulo, str/list repetition, printf-style `str % args`), overflow-checked.
#include <cmath>
#include <cstdio>

#include "chat/jinja_format.h"
#include "chat/jinja_interp.h"
#include "core/error.h"

namespace hearth::jinja {
namespace {

[[noreturn]] void unsupported(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    in.fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

// Overflow-checked int64 arithmetic (Python ints are unbounded; hearth reports an error instead).
int64_t checked_op(Interpreter& in, char op, int64_t a, int64_t b) {
    int64_t r = 0;
    bool overflow = op == '+' ? __builtin_add_overflow(a, b, &r)
                  : op == '-' ? __builtin_sub_overflow(a, b, &r)
                              : __builtin_mul_overflow(a, b, &r);
    if (overflow) in.fail("integer overflow");
    return r;
}

Value repeat(Interpreter& in, const Value& seq, int64_t times) {
    if (times <= 0) return seq.is_string() ? Value(std::string()) : Value::array({}, seq.arr().is_tuple);
    size_t unit = seq.is_string() ? seq.str().size() : seq.arr().items.size();
    if (unit != 0 && static_cast<uint64_t>(times) > in.options().max_output / unit)
        in.fail("repetition result too large");
    if (seq.is_string()) {
        std::string out;
        for (int64_t i = 0; i < times; ++i) out += seq.str();
        return Value(std::move(out));
    }
    std::vector<Value> items;
    for (int64_t i = 0; i < times; ++i) items.insert(items.end(), seq.arr().items.begin(), seq.arr().items.end());
    return Value::array(std::move(items), seq.arr().is_tuple);
}

// printf-style formatting: "%s and %d" % (a, b), "%(name)s" % dict. Flags/width/precision honoured.
Value percent_format(Interpreter& in, const std::string& fmt, const Value& args) {
    std::vector<Value> list;
    if (args.is_array() && args.arr().is_tuple) list = args.arr().items;
    else list.push_back(args);
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) in.fail("incomplete format");
        if (fmt[i] == '%') {
            out += '%';
            continue;
        }
        Value arg;
        bool have = false;
        if (fmt[i] == '(') {
            size_t close = fmt.find(')', i);
            if (close == std::string::npos || !args.is_object()) in.fail("format requires a mapping");
            const Value* v = args.obj().find(fmt.substr(i + 1, close - i - 1));
            if (!v) in.fail("format key not found: " + fmt.substr(i + 1, close - i - 1));
            arg = *v;
            have = true;
            i = close + 1;
        }
        std::string spec = "%";
        while (i < fmt.size() && std::string("-+ #0123456789.").find(fmt[i]) != std::string::npos) spec += fmt[i++];
        if (i >= fmt.size() || spec.size() > 20) in.fail("incomplete format");
        char conv = fmt[i];
        if (!have) {
            if (next >= list.size()) in.fail("not enough arguments for format string");
            arg = list[next++];
        }
        char buf[512];
        if (conv == 's' || conv == 'r' || conv == 'a') {
            std::string s = conv == 's' ? python_str(arg) : python_repr(arg);
            if (spec == "%") {
                out += s;
            } else {  // width/precision on strings: pad manually (snprintf would cut at 512 bytes)
                int width = std::atoi(spec.c_str() + 1 + (spec.size() > 1 && spec[1] == '-'));
                size_t len = utf8_length(s);
                std::string pad = static_cast<size_t>(std::abs(width)) > len ? std::string(static_cast<size_t>(std::abs(width)) - len, ' ') : "";
                out += spec.find('-') != std::string::npos ? s + pad : pad + s;
            }
        } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
            if (!arg.is_number()) in.fail(std::string("%") + conv + " format: a real number is required, not " + arg.type_name());
            std::string f = spec + "ll" + (conv == 'i' ? 'd' : conv);
            std::snprintf(buf, sizeof buf, f.c_str(), static_cast<long long>(arg.as_int()));
            out += buf;
        } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'E' || conv == 'g' || conv == 'G') {
            if (!arg.is_number()) in.fail(std::string("%") + conv + " format: a real number is required, not " + arg.type_name());
            std::snprintf(buf, sizeof buf, (spec + conv).c_str(), arg.as_float());
            out += buf;
        } else {
            in.fail(std::string("unsupported format character '") + conv + "'");
        }
    }
    if (!args.is_object() && next < list.size()) in.fail("not all arguments converted during string formatting");
    return Value(std::move(out));
}

double py_fmod(double a, double b) {
    double m = std::fmod(a, b);
    if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
    return m;
}

}  // namespace

Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    if (op == "~") return Value(python_str(a) + python_str(b));
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined()) raise_undefined(b);
    const bool nums = a.is_number() && b.is_number();
    const bool flt = nums && (a.is_float() || b.is_float());
    if (op == "+") {
        if (nums) return flt ? Value(a.as_float() + b.as_float()) : Value(checked_op(in, '+', a.as_int(), b.as_int()));
        if (a.is_string() && b.is_string()) {
            if (a.is_markup() || b.is_markup())  // Markup.__add__/__radd__ escape the plain side
                return Value::markup((a.is_markup() ? a.str() : html_escape(a.str())) +
                                     (b.is_markup() ? b.str() : html_escape(b.str())));
            return Value(a.str() + b.str());
        }
        if (a.is_array() && b.is_array() && a.arr().is_tuple == b.arr().is_tuple) {
            std::vector<Value> items = a.arr().items;
            items.insert(items.end(), b.arr().items.begin(), b.arr().items.end());
            return Value::array(std::move(items), a.arr().is_tuple);
        }
        unsupported(in, op, a, b);
    }
    if (op == "-") {
        if (!nums) unsupported(in, op, a, b);
        return flt ? Value(a.as_float() - b.as_float()) : Value(checked_op(in, '-', a.as_int(), b.as_int()));
    }
    if (op == "*") {
        if (nums) return flt ? Value(a.as_float() * b.as_float()) : Value(checked_op(in, '*', a.as_int(), b.as_int()));
        if ((a.is_string() || a.is_array()) && (b.is_int() || b.is_bool())) return repeat(in, a, b.as_int());
        if ((b.is_string() || b.is_array()) && (a.is_int() || a.is_bool())) return repeat(in, b, a.as_int());
        unsupported(in, op, a, b);
    }
    if (op == "/") {
        if (!nums) unsupported(in, op, a, b);
        if (b.as_float() == 0.0) in.fail("division by zero");
        return Value(a.as_float() / b.as_float());
    }
    if (op == "//") {
        if (!nums) unsupported(in, op, a, b);
        if (b.as_float() == 0.0) in.fail("integer division or modulo by zero");
        if (flt) return Value(std::floor(a.as_float() / b.as_float()));
        int64_t x = a.as_int(), y = b.as_int();
        if (x == INT64_MIN && y == -1) in.fail("integer overflow");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value(q);
    }
    if (op == "%") {
        if (a.is_string()) return percent_format(in, a.str(), b);
        if (!nums) unsupported(in, op, a, b);
        if (b.as_float() == 0.0) in.fail("integer division or modulo by zero");
        if (flt) return Value(py_fmod(a.as_float(), b.as_float()));
        int64_t x = a.as_int(), y = b.as_int();
        if (y == -1) return Value(int64_t{0});
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
    }
    if (op == "**") {
        if (!nums) unsupported(in, op, a, b);
        if (!flt && b.as_int() >= 0) {
            int64_t base = a.as_int(), exp = b.as_int(), acc = 1;
            while (exp > 0) {
                if (exp & 1) acc = checked_op(in, '*', acc, base);
                exp >>= 1;
                if (exp > 0) base = checked_op(in, '*', base, base);
            }
            return Value(acc);
        }
        if (a.as_float() == 0.0 && b.as_float() < 0) in.fail("0.0 cannot be raised to a negative power");
        return Value(std::pow(a.as_float(), b.as_float()));
    }
    in.fail("unknown operator '" + op + "'");
}

}  // namespace hearth::jinja
