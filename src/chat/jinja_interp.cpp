// The Jinja interpreter: statement execution (output, if, for, set, macro, call/filter blocks),
// expression evaluation, jinja2's attribute/item lookup rules and Undefined semantics, and limits.
#include "chat/jinja_interp.h"

#include <cmath>

#include "chat/jinja_format.h"
#include "core/error.h"

namespace hearth::jinja {

// ---- helpers shared with the built-ins -----------------------------------------------------------

void raise_undefined(const Value& v) {
    throw Error(ErrorKind::InvalidArgument, "template: " + (v.str().empty() ? std::string("value is undefined") : v.str()));
}

const Value* find_arg(CallArgs& args, size_t index, const char* name) {
    if (index < args.positional.size()) return &args.positional[index];
    if (name)
        for (auto& [k, v] : args.keywords)
            if (k == name) return &v;
    return nullptr;
}

Value arg_or(CallArgs& args, size_t index, const char* name, Value def) {
    const Value* v = find_arg(args, index, name);
    return v ? *v : std::move(def);
}

// ---- interpreter core ----------------------------------------------------------------------------

Interpreter::DepthGuard::DepthGuard(Interpreter& i) : in(i) {
    if (++in.depth_ > in.opt_.max_depth) in.fail("template recursion too deep (limit " + std::to_string(in.opt_.max_depth) + ")");
}

Interpreter::Interpreter(const RenderOptions& opt, const Value& context)
    : opt_(opt), globals_(make_globals()), root_(std::make_shared<Frame>()) {
    if (context.is_object())
        for (const auto& [k, v] : context.obj().entries) root_->vars[k] = v;
}

Interpreter::~Interpreter() {
    for (auto& f : closures_)  // the closure and its ancestors hold every path back to a macro
        for (Frame* fr = f.get(); fr; fr = fr->parent.get()) fr->vars.clear();
}

void Interpreter::fail(const std::string& msg) const {
    throw Error(ErrorKind::InvalidArgument,
                "template error at " + std::to_string(line_) + ":" + std::to_string(col_) + ": " + msg);
}

void Interpreter::step() {
    if (++steps_ > opt_.max_steps) fail("template exceeded the step limit (" + std::to_string(opt_.max_steps) + ")");
}

void Interpreter::count_link() {
    if (++links_ > 4096) fail("too many namespaces / stored containers (limit 4096)");
}

std::string Interpreter::render(const Template& tmpl) {
    std::string out;
    out_ = &out;
    try {
        exec_body(tmpl.body, root_);
    } catch (const Error& e) {
        std::string m = e.what();
        if (m.rfind("template: ", 0) == 0)
            throw Error(e.kind(), "template error at " + std::to_string(line_) + ":" + std::to_string(col_) + ": " +
                                      m.substr(10));
        throw;
    }
    out_ = nullptr;
    return out;
}

Value Interpreter::lookup(const FramePtr& f, const std::string& name) const {
    for (const Frame* fr = f.get(); fr; fr = fr->parent.get()) {
        auto it = fr->vars.find(name);
        if (it != fr->vars.end()) return it->second;
    }
    if (const Value* g = globals_.obj().find(name)) return *g;
    return Value::undefined("'" + name + "' is undefined");
}

void Interpreter::assign(const FramePtr& f, const std::vector<std::string>& names, const Value& v) {
    if (names.size() == 1) {
        f->vars[names[0]] = v;
        return;
    }
    std::vector<Value> items = iterate(v);
    if (items.size() != names.size())
        fail(items.size() < names.size() ? "not enough values to unpack (expected " + std::to_string(names.size()) +
                                               ", got " + std::to_string(items.size()) + ")"
                                         : "too many values to unpack (expected " + std::to_string(names.size()) + ")");
    for (size_t i = 0; i < names.size(); ++i) f->vars[names[i]] = items[i];
}

void Interpreter::emit(const std::string& s) {
    if (out_->size() + s.size() > opt_.max_output)
        fail("template output exceeds the limit of " + std::to_string(opt_.max_output) + " bytes");
    out_->append(s);
}

std::string Interpreter::capture(const Body& body, const FramePtr& f) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    struct Restore {
        std::string*& slot;
        std::string* saved;
        ~Restore() { slot = saved; }
    } restore{out_, saved};
    exec_body(body, f);
    return buf;
}

// ---- statements ----------------------------------------------------------------------------------

Interpreter::Flow Interpreter::exec_body(const Body& body, const FramePtr& f) {
    for (const auto& s : body) {
        Flow fl = exec(*s, f);
        if (fl != Flow::Normal) return fl;
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const FramePtr& f) {
    DepthGuard g(*this);
    step();
    line_ = s.line;
    col_ = s.col;
    switch (s.kind) {
        case StmtKind::Text: emit(s.text); return Flow::Normal;
        case StmtKind::Output: emit(python_str(eval(*s.expr, f))); return Flow::Normal;
        case StmtKind::If:
            for (const auto& [cond, body] : s.branches)
                if (eval(*cond, f).truthy()) return exec_body(body, f);
            return exec_body(s.else_body, f);
        case StmtKind::For: return exec_for(s, f);
        case StmtKind::Set:
        case StmtKind::SetBlock: {
            Value v;
            if (s.kind == StmtKind::Set) {
                v = eval(*s.expr, f);
            } else {
                v = Value(capture(s.body, f));
                if (s.expr) v = eval_filter(*s.expr, f, &v);
            }
            if (!s.text.empty()) {  // {% set ns.attr = ... %}
                Value target = lookup(f, s.names[0]);
                if (!target.is_object() || !target.obj().is_namespace)
                    fail("cannot assign attribute on non-namespace object");
                if (value_reaches(v, target.obj_ptr().get())) fail("assignment would create a reference cycle");
                if (v.is_array() || v.is_object()) count_link();
                target.obj().set(s.text, v);
            } else {
                assign(f, s.names, v);
            }
            return Flow::Normal;
        }
        case StmtKind::Macro: f->vars[s.names[0]] = make_macro(s, f, nullptr); return Flow::Normal;
        case StmtKind::CallBlock: {
            const Expr& call = *s.expr;
            Value callee = eval(*call.children[0], f);
            if (callee.is_undefined()) raise_undefined(callee);
            if (!callee.is_function()) fail(std::string("'") + callee.type_name() + "' object is not callable");
            CallArgs args;
            eval_args(call, 1, f, args);
            args.keywords.emplace_back("caller", make_macro(s, f, &s.body));
            emit(python_str(this->call(callee, args)));
            return Flow::Normal;
        }
        case StmtKind::FilterBlock: {
            Value text(capture(s.body, f));
            emit(python_str(eval_filter(*s.expr, f, &text)));
            return Flow::Normal;
        }
        case StmtKind::Break: return Flow::Break;
        case StmtKind::Continue: return Flow::Continue;
        case StmtKind::With: {
            auto inner = std::make_shared<Frame>();
            inner->parent = f;
            for (const auto& [name, expr] : s.params) inner->vars[name] = eval(*expr, f);
            return exec_body(s.body, inner);
        }
        case StmtKind::Scope: {
            auto inner = std::make_shared<Frame>();
            inner->parent = f;
            return exec_body(s.body, inner);
        }
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const FramePtr& f) {
    if (s.recursive) throw Error(ErrorKind::Unsupported, "template: recursive for loops are not supported");
    std::vector<Value> items = iterate(eval(*s.expr, f));
    if (s.filter) {
        std::vector<Value> kept;
        for (auto& item : items) {
            step();
            auto probe = std::make_shared<Frame>();
            probe->parent = f;
            assign(probe, s.names, item);
            if (eval(*s.filter, probe).truthy()) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        auto inner = std::make_shared<Frame>();
        inner->parent = f;
        exec_body(s.else_body, inner);
        return Flow::Normal;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
        step();
        auto inner = std::make_shared<Frame>();  // a fresh scope per iteration, as jinja2
        inner->parent = f;
        assign(inner, s.names, items[static_cast<size_t>(i)]);
        Value loop = Value::object();
        Object& o = loop.obj();
        o.set("index", Value(i + 1));
        o.set("index0", Value(i));
        o.set("revindex", Value(n - i));
        o.set("revindex0", Value(n - i - 1));
        o.set("first", Value(i == 0));
        o.set("last", Value(i == n - 1));
        o.set("length", Value(n));
        o.set("depth", Value(int64_t{1}));
        o.set("depth0", Value(int64_t{0}));
        o.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
        o.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
        o.set("cycle", Value::function("cycle", [i](Interpreter& in, CallArgs& a) -> Value {
                  if (a.positional.empty()) in.fail("no items for cycling given");
                  return a.positional[static_cast<size_t>(i) % a.positional.size()];
              }));
        inner->vars["loop"] = loop;
        if (exec_body(s.body, inner) == Flow::Break) break;
    }
    return Flow::Normal;
}

// A macro (caller_body == nullptr) or the `caller` of a {% call %} block (its body and params).
Value Interpreter::make_macro(const Stmt& s, const FramePtr& closure, const Body* caller_body) {
    closures_.push_back(closure);
    const Stmt* def = &s;
    const Body* body = caller_body ? caller_body : &s.body;
    std::string name = caller_body ? "caller" : s.names[0];
    return Value::function(name, [def, body, closure, name](Interpreter& in, CallArgs& args) -> Value {
        auto frame = std::make_shared<Frame>();
        frame->parent = closure;
        const auto& params = def->params;
        if (args.positional.size() > params.size())
            in.fail("macro '" + name + "' takes not more than " + std::to_string(params.size()) + " argument(s)");
        std::vector<bool> given(params.size(), false);
        for (size_t i = 0; i < args.positional.size(); ++i) {
            frame->vars[params[i].first] = args.positional[i];
            given[i] = true;
        }
        for (auto& [k, v] : args.keywords) {
            size_t idx = params.size();
            for (size_t p = 0; p < params.size(); ++p)
                if (params[p].first == k) idx = p;
            if (idx == params.size()) {
                if (k == "caller") {
                    frame->vars["caller"] = v;
                    continue;
                }
                in.fail("macro '" + name + "' takes no keyword argument '" + k + "'");
            }
            if (given[idx]) in.fail("macro '" + name + "' got multiple values for argument '" + k + "'");
            frame->vars[k] = v;
            given[idx] = true;
        }
        for (size_t p = 0; p < params.size(); ++p) {
            if (given[p]) continue;
            frame->vars[params[p].first] = params[p].second ? in.eval(*params[p].second, frame)
                                                            : Value::undefined("parameter '" + params[p].first +
                                                                               "' was not provided");
        }
        return Value(in.capture(*body, frame));
    });
}

// ---- expressions ---------------------------------------------------------------------------------

Value Interpreter::eval(const Expr& e, const FramePtr& f) {
    DepthGuard g(*this);
    step();
    line_ = e.line;
    col_ = e.col;
    switch (e.kind) {
        case ExprKind::Literal: return e.literal;
        case ExprKind::Name: return lookup(f, e.name);
        case ExprKind::List:
        case ExprKind::Tuple: {
            std::vector<Value> items;
            items.reserve(e.children.size());
            for (const auto& c : e.children) items.push_back(eval(*c, f));
            return Value::array(std::move(items), e.kind == ExprKind::Tuple);
        }
        case ExprKind::Dict: {
            Value d = Value::object();
            for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
                Value k = eval(*e.children[i], f);
                Value v = eval(*e.children[i + 1], f);
                if (k.is_string()) {
                    d.obj().set(k.str(), std::move(v));
                    continue;
                }
                if (!k.is_number() && !k.is_none()) fail(std::string("unhashable type: '") + k.type_name() + "'");
                std::string ks = python_str(k);
                if (!d.obj().typed_keys) d.obj().typed_keys = std::make_shared<std::unordered_map<std::string, Value>>();
                (*d.obj().typed_keys)[ks] = k;
                d.obj().set(ks, std::move(v));
            }
            return d;
        }
        case ExprKind::GetAttr: return get_attr(eval(*e.children[0], f), e.name);
        case ExprKind::GetItem: {
            Value obj = eval(*e.children[0], f);
            return get_item(obj, eval(*e.children[1], f));
        }
        case ExprKind::Slice: {
            Value obj = eval(*e.children[0], f);
            Value parts[3];
            for (int i = 0; i < 3; ++i)
                if (e.children[static_cast<size_t>(i) + 1]) parts[i] = eval(*e.children[static_cast<size_t>(i) + 1], f);
            return slice(obj, parts[0], parts[1], parts[2]);
        }
        case ExprKind::Call: return eval_call(e, f);
        case ExprKind::Filter: return eval_filter(e, f, nullptr);
        case ExprKind::Test: {
            Value v = eval(*e.children[0], f);
            CallArgs args;
            eval_args(e, 1, f, args);
            line_ = e.line;
            col_ = e.col;
            return Value(apply_test(e.name, v, args) != e.negated);
        }
        case ExprKind::Not: return Value(!eval(*e.children[0], f).truthy());
        case ExprKind::Neg:
        case ExprKind::Pos: {
            Value v = eval(*e.children[0], f);
            if (v.is_undefined()) raise_undefined(v);
            if (!v.is_number())
                fail(std::string("bad operand type for unary ") + (e.kind == ExprKind::Neg ? "-" : "+") + ": '" +
                     v.type_name() + "'");
            if (e.kind == ExprKind::Pos) return v.is_bool() ? Value(v.as_int()) : v;
            if (v.is_float()) return Value(-v.as_float());
            if (v.as_int() == INT64_MIN) fail("integer overflow");
            return Value(-v.as_int());
        }
        case ExprKind::Binary: return eval_binary(e, f);
        case ExprKind::Compare: return eval_compare(e, f);
        case ExprKind::CondExpr: {
            if (eval(*e.children[0], f).truthy()) return eval(*e.children[1], f);
            if (e.children[2]) return eval(*e.children[2], f);
            return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
        }
    }
    return Value();
}

Value Interpreter::eval_binary(const Expr& e, const FramePtr& f) {
    if (e.name == "and" || e.name == "or") {
        Value l = eval(*e.children[0], f);
        bool t = l.truthy();
        if (e.name == "and" ? !t : t) return l;
        return eval(*e.children[1], f);
    }
    Value l = eval(*e.children[0], f);
    Value r = eval(*e.children[1], f);
    line_ = e.line;
    col_ = e.col;
    return binary_op(*this, e.name, l, r);
}

Value Interpreter::eval_compare(const Expr& e, const FramePtr& f) {
    Value left = eval(*e.children[0], f);
    for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.children[i + 1], f);
        line_ = e.line;
        col_ = e.col;
        const std::string& op = e.ops[i];
        bool ok;
        if (op == "==") ok = values_equal(left, right);
        else if (op == "!=") ok = !values_equal(left, right);
        else if (op == "in") ok = contains(right, left);
        else if (op == "notin") ok = !contains(right, left);
        else {
            if (left.is_undefined()) raise_undefined(left);
            if (right.is_undefined()) raise_undefined(right);
            int c = values_compare(left, right);
            ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!ok) return Value(false);
        left = std::move(right);
    }
    return Value(true);
}

void Interpreter::eval_args(const Expr& e, size_t first, const FramePtr& f, CallArgs& args) {
    const size_t n = e.children.size();
    const size_t nkw = e.kw_names.size();
    for (size_t i = first; i + nkw < n; ++i) args.positional.push_back(eval(*e.children[i], f));
    for (size_t k = 0; k < nkw; ++k) args.keywords.emplace_back(e.kw_names[k], eval(*e.children[n - nkw + k], f));
}

Value Interpreter::eval_call(const Expr& e, const FramePtr& f) {
    Value callee = eval(*e.children[0], f);
    CallArgs args;
    eval_args(e, 1, f, args);
    line_ = e.line;
    col_ = e.col;
    if (callee.is_undefined()) raise_undefined(callee);
    if (!callee.is_function()) fail(std::string("'") + callee.type_name() + "' object is not callable");
    return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& e, const FramePtr& f, const Value* piped) {
    Value base;
    const Expr* inner = e.children[0].get();
    if (!inner) {
        HEARTH_ASSERT(piped != nullptr);
        base = *piped;
    } else if (inner->kind == ExprKind::Filter) {
        base = eval_filter(*inner, f, piped);
    } else {
        base = eval(*inner, f);
    }
    CallArgs args;
    eval_args(e, 1, f, args);
    step();
    line_ = e.line;
    col_ = e.col;
    return apply_filter(e.name, base, args);
}

Value Interpreter::call(const Value& fn, CallArgs& args) {
    DepthGuard g(*this);
    return fn.fn().call(*this, args);
}

// ---- lookups -------------------------------------------------------------------------------------

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (obj.is_object()) {
        if (obj.obj().is_namespace) {
            if (const Value* v = obj.obj().find(name)) return *v;
            return Value::undefined("'Namespace' object has no attribute '" + name + "'");
        }
        Value m = method(obj, name);
        if (!m.is_undefined() || !m.str().empty()) return m;
        if (const Value* v = obj.obj().find(name)) return *v;
        return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    Value m = method(obj, name);
    if (!m.is_undefined() || !m.str().empty()) return m;
    return Value::undefined(std::string("'") + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) raise_undefined(obj);
    if ((obj.is_array() || obj.is_string()) && (key.is_int() || key.is_bool())) {
        int64_t i = key.as_int();
        if (obj.is_array()) {
            const int64_t n = static_cast<int64_t>(obj.arr().items.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + std::to_string(key.as_int()));
            return obj.arr().items[static_cast<size_t>(i)];
        }
        std::vector<uint32_t> cps = utf8_decode(obj.str());
        const int64_t n = static_cast<int64_t>(cps.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined("'str object' has no element " + std::to_string(key.as_int()));
        return Value(utf8_encode(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
    }
    if (obj.is_object() && key.is_string()) {
        if (const Value* v = obj.obj().find(key.str())) return *v;
    }
    if (obj.is_object() && obj.obj().typed_keys && (key.is_number() || key.is_none())) {
        auto it = obj.obj().typed_keys->find(python_str(key));
        if (it != obj.obj().typed_keys->end() && values_equal(it->second, key)) return *obj.obj().find(it->first);
    }
    if (key.is_string()) {
        Value m = obj.is_object() && obj.obj().is_namespace ? Value() : method(obj, key.str());
        if (!m.is_undefined() || !m.str().empty()) return m;
        return Value::undefined(std::string("'") + (obj.is_object() ? "dict" : obj.type_name()) +
                                " object' has no attribute '" + key.str() + "'");
    }
    return Value::undefined(std::string("'") + obj.type_name() + " object' has no element " + python_repr(key));
}

std::vector<Value> Interpreter::iterate(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return {};
        case Value::Kind::Array: return v.arr().items;
        case Value::Kind::Object: {
            if (v.obj().is_namespace) fail("'Namespace' object is not iterable");
            std::vector<Value> keys;
            for (const auto& [k, e] : v.obj().entries) keys.push_back(v.obj().key_value(k));
            return keys;
        }
        case Value::Kind::String: {
            std::vector<Value> chars;
            for (uint32_t cp : utf8_decode(v.str())) {
                std::string c;
                utf8_append(c, cp);
                chars.emplace_back(std::move(c));
            }
            return chars;
        }
        default: fail(std::string("'") + v.type_name() + "' object is not iterable");
    }
}

bool Interpreter::contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string()) fail(std::string("'in <string>' requires string as left operand, not ") + item.type_name());
            return container.str().find(item.str()) != std::string::npos;
        case Value::Kind::Array:
            for (const auto& e : container.arr().items)
                if (values_equal(e, item)) return true;
            return false;
        case Value::Kind::Object:
            if (container.obj().is_namespace) fail("argument of type 'Namespace' is not iterable");
            if (item.is_string()) return container.obj().find(item.str()) != nullptr;
            return container.obj().typed_keys && container.obj().typed_keys->count(python_str(item)) > 0;
        default: fail(std::string("argument of type '") + container.type_name() + "' is not iterable");
    }
}

Value Interpreter::slice(const Value& obj, const Value& start, const Value& stop, const Value& step_v) {
    if (obj.is_undefined()) raise_undefined(obj);
    if (!obj.is_array() && !obj.is_string()) return Value::undefined(std::string("'") + obj.type_name() + "' object is not subscriptable");
    auto as_index = [&](const Value& v, bool& present) -> int64_t {
        present = !(v.is_undefined() || v.is_none());
        if (!present) return 0;
        if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None");
        return v.as_int();
    };
    bool has_start, has_stop, has_step;
    int64_t st = as_index(start, has_start), sp = as_index(stop, has_stop), step = as_index(step_v, has_step);
    if (!has_step) step = 1;
    if (step == 0) fail("slice step cannot be zero");
    std::vector<uint32_t> cps;
    const bool is_str = obj.is_string();
    if (is_str) cps = utf8_decode(obj.str());
    const int64_t len = is_str ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(obj.arr().items.size());
    const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
    auto clamp = [&](int64_t v) { return v < 0 ? std::max(v + len, lower) : std::min(v, upper); };
    int64_t b = has_start ? clamp(st) : (step > 0 ? lower : upper);
    int64_t e = has_stop ? clamp(sp) : (step > 0 ? upper : lower);
    std::vector<Value> items;
    std::string s;
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
        if (is_str) utf8_append(s, cps[static_cast<size_t>(i)]);
        else items.push_back(obj.arr().items[static_cast<size_t>(i)]);
        if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) break;
    }
    if (is_str) return Value(std::move(s));
    return Value::array(std::move(items), obj.arr().is_tuple);
}

// ---- entry points --------------------------------------------------------------------------------

std::string render(const Template& tmpl, const Value& context, const RenderOptions& opt) {
    Interpreter in(opt, context);
    return in.render(tmpl);
}

std::string render_string(const std::string& source, const Value& context, const RenderOptions& opt) {
    auto t = parse_template(source);
    return render(*t, context, opt);
}

}  // namespace hearth::jinja
