// The Jinja interpreter (internal): walks a Template's syntax tree with lexical frames, enforces
// the render limits, and offers the helpers the built-in filters, tests and methods share.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja.h"

namespace hearth::jinja {

struct Frame {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Frame> parent;
};
using FramePtr = std::shared_ptr<Frame>;

class Interpreter {
public:
    Interpreter(const RenderOptions& opt, const Value& context);
    ~Interpreter();  // breaks macro <-> frame reference cycles
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;
    std::string render(const Template& tmpl);

    const RenderOptions& options() const { return opt_; }
    [[noreturn]] void fail(const std::string& msg) const;  // InvalidArgument "... at line:col"
    void step();  // counts one unit of work against max_steps
    // Counts namespaces created and containers stored into mutable ones: those are the only ways
    // to build long reference chains (whose recursive destruction could exhaust the stack).
    void count_link();

    Value call(const Value& fn, CallArgs& args);
    Value get_attr(const Value& obj, const std::string& name);  // obj.name (jinja2 getattr)
    Value get_item(const Value& obj, const Value& key);        // obj[key] (jinja2 getitem)
    std::vector<Value> iterate(const Value& v);                  // for-loop items
    bool contains(const Value& container, const Value& item);   // `item in container`

    // Built-ins (jinja_filters.cpp / jinja_builtins.cpp).
    Value apply_filter(const std::string& name, const Value& v, CallArgs& args);
    bool apply_test(const std::string& name, const Value& v, CallArgs& args);
    bool has_test(const std::string& name) const;
    Value method(const Value& obj, const std::string& name);  // bound method or undefined
    static Value make_globals();

private:
    enum class Flow { Normal, Break, Continue };

    RenderOptions opt_;
    Value globals_;
    FramePtr root_;
    std::string* out_ = nullptr;
    uint64_t steps_ = 0;
    int depth_ = 0;
    int links_ = 0;
    int line_ = 0, col_ = 0;
    std::vector<FramePtr> closures_;  // frames captured by macros (a macro lives in its frame)

    struct DepthGuard {
        Interpreter& in;
        explicit DepthGuard(Interpreter& i);
        ~DepthGuard() { --in.depth_; }
    };

    Value lookup(const FramePtr& f, const std::string& name) const;
    void assign(const FramePtr& f, const std::vector<std::string>& names, const Value& v);
    void emit(const std::string& s);
    std::string capture(const Body& body, const FramePtr& f);

    Flow exec_body(const Body& body, const FramePtr& f);
    Flow exec(const Stmt& s, const FramePtr& f);
    Flow exec_for(const Stmt& s, const FramePtr& f);
    Value make_macro(const Stmt& s, const FramePtr& f, const Body* caller_body);
    Value eval(const Expr& e, const FramePtr& f);
    Value eval_binary(const Expr& e, const FramePtr& f);
    Value eval_compare(const Expr& e, const FramePtr& f);
    Value eval_call(const Expr& e, const FramePtr& f);
    Value eval_filter(const Expr& e, const FramePtr& f, const Value* piped);
    void eval_args(const Expr& e, size_t first, const FramePtr& f, CallArgs& args);
    Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
};

// Shared helpers for the built-ins.
[[noreturn]] void raise_undefined(const Value& v);  // the UndefinedError jinja2 raises
Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b);
std::string html_escape(const std::string& s);  // markupsafe.escape of & < > and both quotes


// Argument access for native functions: positional index or keyword name, else `def`.
const Value* find_arg(CallArgs& args, size_t index, const char* name);
Value arg_or(CallArgs& args, size_t index, const char* name, Value def);

}  // namespace hearth::jinja
