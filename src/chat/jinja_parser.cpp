// Recursive-descent Jinja parser: statements ({% if/for/set/macro/call/filter/with %}) and
// expressions with jinja2's grammar. Depth-limited so hostile templates cannot exhaust the stack.
#include "chat/jinja_parser.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "core/error.h"

namespace hearth::jinja {
namespace {

constexpr int kMaxDepth = 200;

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

    std::shared_ptr<const Template> run() {
        auto t = std::make_shared<Template>();
        t->body = parse_body({});
        if (cur().type != TokenType::Eof) fail("unexpected '" + cur().value + "'");
        return t;
    }

private:
    std::vector<Token> toks_;
    size_t pos_ = 0;
    int depth_ = 0;

    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser) : p(parser) {
            if (++p.depth_ > kMaxDepth) p.fail("template nested too deeply");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token& cur() const { return toks_[pos_]; }
    const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
    void advance() {
        if (pos_ + 1 < toks_.size()) ++pos_;
    }

    [[noreturn]] void fail(const std::string& msg) const {
        const Token& t = cur();
        throw Error(ErrorKind::InvalidArgument, "template syntax error at " + std::to_string(t.line) + ":" +
                                                    std::to_string(t.col) + ": " + msg);
    }

    bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().value == op; }
    bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().value == name; }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(std::string("expected '") + op + "'" + describe_current());
        advance();
    }
    std::string expect_name() {
        if (cur().type != TokenType::Name) fail("expected a name" + describe_current());
        std::string n = cur().value;
        advance();
        return n;
    }
    void expect_block_end() {
        if (cur().type != TokenType::BlockEnd) fail("expected end of statement block" + describe_current());
        advance();
    }
    std::string describe_current() const {
        switch (cur().type) {
            case TokenType::Eof: return ", got end of template";
            case TokenType::BlockEnd: return ", got '%}'";
            case TokenType::VarEnd: return ", got '}}'";
            default: return ", got '" + cur().value + "'";
        }
    }

    ExprPtr make(ExprKind k, const Token& at) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = at.line;
        e->col = at.col;
        return e;
    }

    StmtPtr make_stmt(StmtKind k, const Token& at) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        s->line = at.line;
        s->col = at.col;
        return s;
    }

    // ---- statements ----------------------------------------------------------------------------

    // Parses until a `{% <end tag> %}` whose name is in `ends` (left unconsumed: cur() is its name).
    Body parse_body(const std::set<std::string>& ends) {
        DepthGuard g(*this);
        Body body;
        while (true) {
            const Token& t = cur();
            if (t.type == TokenType::Eof) {
                if (!ends.empty()) {
                    std::string want;
                    for (const auto& e : ends) want += (want.empty() ? "'" : " or '") + e + "'";
                    fail("unexpected end of template, looking for " + want);
                }
                return body;
            }
            if (t.type == TokenType::Text) {
                auto s = make_stmt(StmtKind::Text, t);
                s->text = t.value;
                body.push_back(std::move(s));
                advance();
            } else if (t.type == TokenType::VarBegin) {
                auto s = make_stmt(StmtKind::Output, t);
                advance();
                s->expr = parse_tuple(true);
                if (cur().type != TokenType::VarEnd) fail("expected '}}'" + describe_current());
                advance();
                body.push_back(std::move(s));
            } else if (t.type == TokenType::BlockBegin) {
                advance();
                if (cur().type != TokenType::Name) fail("expected a statement name" + describe_current());
                if (ends.count(cur().value)) return body;
                body.push_back(parse_statement());
            } else {
                fail("unexpected token");
            }
        }
    }

    // Consumes `{% <name> %}` that parse_body stopped at (cur() is the name).
    void end_tag(const char* name) {
        if (!is_name(name)) fail(std::string("expected '") + name + "'");
        advance();
        expect_block_end();
    }

    StmtPtr parse_statement() {
        const Token& t = cur();
        const std::string kw = t.value;
        if (kw == "if") return parse_if();
        if (kw == "for") return parse_for();
        if (kw == "set") return parse_set();
        if (kw == "macro") return parse_macro();
        if (kw == "call") return parse_call_block();
        if (kw == "filter") return parse_filter_block();
        if (kw == "with") return parse_with();
        if (kw == "break" || kw == "continue") {
            auto s = make_stmt(kw == "break" ? StmtKind::Break : StmtKind::Continue, t);
            advance();
            expect_block_end();
            return s;
        }
        if (kw == "generation") {  // Hugging Face's AssistantTracker tag: renders its body
            auto s = make_stmt(StmtKind::Scope, t);
            advance();
            expect_block_end();
            s->body = parse_body({"endgeneration"});
            end_tag("endgeneration");
            return s;
        }
        if (kw == "include" || kw == "import" || kw == "from" || kw == "extends" || kw == "block")
            throw Error(ErrorKind::Unsupported, "template: '" + kw + "' is not supported (templates cannot load files)");
        fail("encountered unknown tag '" + kw + "'");
    }

    StmtPtr parse_if() {
        auto s = make_stmt(StmtKind::If, cur());
        advance();
        while (true) {
            ExprPtr cond = parse_tuple(false);
            expect_block_end();
            Body body = parse_body({"elif", "else", "endif"});
            s->branches.emplace_back(std::move(cond), std::move(body));
            if (is_name("elif")) {
                advance();
                continue;
            }
            if (is_name("else")) {
                advance();
                expect_block_end();
                s->else_body = parse_body({"endif"});
            }
            end_tag("endif");
            return s;
        }
    }

    std::vector<std::string> parse_targets() {
        std::vector<std::string> names;
        bool paren = is_op("(");
        if (paren) advance();
        names.push_back(expect_name());
        while (is_op(",")) {
            advance();
            if (cur().type != TokenType::Name) break;
            names.push_back(expect_name());
        }
        if (paren) expect_op(")");
        return names;
    }

    StmtPtr parse_for() {
        auto s = make_stmt(StmtKind::For, cur());
        advance();
        s->names = parse_targets();
        if (!is_name("in")) fail("expected 'in'" + describe_current());
        advance();
        s->expr = parse_tuple(false);
        if (is_name("if")) {
            advance();
            s->filter = parse_expression(true);
        }
        if (is_name("recursive")) {
            advance();
            s->recursive = true;
        }
        expect_block_end();
        s->body = parse_body({"endfor", "else"});
        if (is_name("else")) {
            advance();
            expect_block_end();
            s->else_body = parse_body({"endfor"});
        }
        end_tag("endfor");
        return s;
    }

    StmtPtr parse_set() {
        const Token& at = cur();
        advance();
        std::vector<std::string> names;
        std::string attr;
        names.push_back(expect_name());
        if (is_op(".")) {
            advance();
            attr = expect_name();
        } else {
            while (is_op(",")) {
                advance();
                names.push_back(expect_name());
            }
        }
        if (is_op("=")) {
            auto s = make_stmt(StmtKind::Set, at);
            s->names = std::move(names);
            s->text = attr;
            advance();
            s->expr = parse_tuple(true);
            expect_block_end();
            return s;
        }
        auto s = make_stmt(StmtKind::SetBlock, at);
        if (names.size() != 1) fail("a block set assigns exactly one name");
        s->names = std::move(names);
        s->text = attr;
        if (is_op("|")) s->expr = parse_filter_chain(nullptr);
        expect_block_end();
        s->body = parse_body({"endset"});
        end_tag("endset");
        return s;
    }

    void parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            std::string name = expect_name();
            ExprPtr def;
            if (is_op("=")) {
                advance();
                def = parse_expression(true);
            } else if (!params.empty() && params.back().second) {
                fail("non-default argument follows default argument");
            }
            params.emplace_back(std::move(name), std::move(def));
        }
        advance();
    }

    StmtPtr parse_macro() {
        auto s = make_stmt(StmtKind::Macro, cur());
        advance();
        s->names.push_back(expect_name());
        parse_params(s->params);
        expect_block_end();
        s->body = parse_body({"endmacro"});
        end_tag("endmacro");
        return s;
    }

    StmtPtr parse_call_block() {
        auto s = make_stmt(StmtKind::CallBlock, cur());
        advance();
        if (is_op("(")) parse_params(s->params);
        s->expr = parse_expression(true);
        if (s->expr->kind != ExprKind::Call) fail("expected a call after 'call'");
        expect_block_end();
        s->body = parse_body({"endcall"});
        end_tag("endcall");
        return s;
    }

    StmtPtr parse_filter_block() {
        auto s = make_stmt(StmtKind::FilterBlock, cur());
        advance();
        s->expr = parse_filter_chain(nullptr, /*first_pipe=*/false);
        expect_block_end();
        s->body = parse_body({"endfilter"});
        end_tag("endfilter");
        return s;
    }

    StmtPtr parse_with() {
        auto s = make_stmt(StmtKind::With, cur());
        advance();
        while (cur().type != TokenType::BlockEnd) {
            if (!s->params.empty()) expect_op(",");
            std::string name = expect_name();
            expect_op("=");
            s->params.emplace_back(std::move(name), parse_expression(true));
        }
        expect_block_end();
        s->body = parse_body({"endwith"});
        end_tag("endwith");
        return s;
    }

    // ---- expressions ---------------------------------------------------------------------------

    ExprPtr parse_tuple(bool with_condexpr) {
        const Token& at = cur();
        ExprPtr first = parse_expression(with_condexpr);
        if (!is_op(",")) return first;
        auto t = make(ExprKind::Tuple, at);
        t->children.push_back(std::move(first));
        while (is_op(",")) {
            advance();
            if (!starts_expression()) break;
            t->children.push_back(parse_expression(with_condexpr));
        }
        return t;
    }

    bool starts_expression() const {
        const Token& t = cur();
        if (t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Int ||
            t.type == TokenType::Float)
            return true;
        return t.type == TokenType::Op && (t.value == "(" || t.value == "[" || t.value == "{" || t.value == "-" ||
                                           t.value == "+");
    }

    ExprPtr parse_expression(bool with_condexpr) {
        DepthGuard g(*this);
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            auto c = make(ExprKind::CondExpr, cur());
            advance();
            ExprPtr cond = parse_or();
            ExprPtr otherwise;
            if (is_name("else")) {
                advance();
                otherwise = parse_condexpr();
            }
            c->children.push_back(std::move(cond));
            c->children.push_back(std::move(expr));
            c->children.push_back(std::move(otherwise));
            expr = std::move(c);
        }
        return expr;
    }

    ExprPtr binary(ExprKind k, const std::string& op, ExprPtr l, ExprPtr r, const Token& at) {
        auto e = make(k, at);
        e->name = op;
        e->children.push_back(std::move(l));
        e->children.push_back(std::move(r));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr l = parse_and();
        while (is_name("or")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, "or", std::move(l), parse_and(), at);
        }
        return l;
    }

    ExprPtr parse_and() {
        ExprPtr l = parse_not();
        while (is_name("and")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, "and", std::move(l), parse_not(), at);
        }
        return l;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard g(*this);
            auto e = make(ExprKind::Not, cur());
            advance();
            e->children.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token& at = cur();
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == TokenType::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                                cur().value == ">" || cur().value == "<=" || cur().value == ">=")) {
                op = cur().value;
                advance();
            } else if (is_name("in")) {
                op = "in";
                advance();
            } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
                op = "notin";
                advance();
                advance();
            } else {
                break;
            }
            if (!cmp) {
                cmp = make(ExprKind::Compare, at);
                cmp->children.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->children.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr l = parse_concat();
        while (is_op("+") || is_op("-")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, at.value, std::move(l), parse_concat(), at);
        }
        return l;
    }

    ExprPtr parse_concat() {
        ExprPtr l = parse_math2();
        while (is_op("~")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, "~", std::move(l), parse_math2(), at);
        }
        return l;
    }

    ExprPtr parse_math2() {
        ExprPtr l = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, at.value, std::move(l), parse_pow(), at);
        }
        return l;
    }

    ExprPtr parse_pow() {
        ExprPtr l = parse_unary(true);
        while (is_op("**")) {
            Token at = cur();
            advance();
            l = binary(ExprKind::Binary, "**", std::move(l), parse_unary(true), at);
        }
        return l;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard g(*this);
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            node = make(is_op("-") ? ExprKind::Neg : ExprKind::Pos, cur());
            advance();
            node->children.push_back(parse_unary(false));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    ExprPtr parse_primary() {
        const Token t = cur();
        switch (t.type) {
            case TokenType::Name: {
                advance();
                auto e = make(ExprKind::Literal, t);
                if (t.value == "true" || t.value == "True") e->literal = Value(true);
                else if (t.value == "false" || t.value == "False") e->literal = Value(false);
                else if (t.value == "none" || t.value == "None") e->literal = Value::none();
                else {
                    e->kind = ExprKind::Name;
                    e->name = t.value;
                }
                return e;
            }
            case TokenType::String: {
                std::string s;
                while (cur().type == TokenType::String) {
                    s += cur().value;
                    advance();
                }
                auto e = make(ExprKind::Literal, t);
                e->literal = Value(std::move(s));
                return e;
            }
            case TokenType::Int: {
                advance();
                errno = 0;
                long long v = std::strtoll(t.value.c_str(), nullptr, 10);
                if (errno == ERANGE) fail("integer literal too large");
                auto e = make(ExprKind::Literal, t);
                e->literal = Value(static_cast<int64_t>(v));
                return e;
            }
            case TokenType::Float: {
                advance();
                auto e = make(ExprKind::Literal, t);
                e->literal = Value(std::strtod(t.value.c_str(), nullptr));
                return e;
            }
            case TokenType::Op:
                if (t.value == "(") {
                    advance();
                    if (is_op(")")) {
                        advance();
                        return make(ExprKind::Tuple, t);
                    }
                    ExprPtr inner = parse_tuple(true);
                    if (is_op(",")) fail("unexpected ','");
                    expect_op(")");
                    return inner;
                }
                if (t.value == "[") {
                    advance();
                    auto e = make(ExprKind::List, t);
                    while (!is_op("]")) {
                        if (!e->children.empty()) expect_op(",");
                        if (is_op("]")) break;
                        e->children.push_back(parse_expression(true));
                    }
                    advance();
                    return e;
                }
                if (t.value == "{") {
                    advance();
                    auto e = make(ExprKind::Dict, t);
                    while (!is_op("}")) {
                        if (!e->children.empty()) expect_op(",");
                        if (is_op("}")) break;
                        e->children.push_back(parse_expression(true));
                        expect_op(":");
                        e->children.push_back(parse_expression(true));
                    }
                    advance();
                    return e;
                }
                break;
            default: break;
        }
        fail("unexpected " + (t.type == TokenType::Op ? "'" + t.value + "'" : describe_current().substr(6)));
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (is_op(".")) {
                Token at = cur();
                advance();
                if (cur().type == TokenType::Name) {
                    auto e = make(ExprKind::GetAttr, at);
                    e->name = cur().value;
                    advance();
                    e->children.push_back(std::move(node));
                    node = std::move(e);
                } else if (cur().type == TokenType::Int) {
                    auto e = make(ExprKind::GetItem, at);
                    auto idx = make(ExprKind::Literal, cur());
                    idx->literal = Value(static_cast<int64_t>(std::strtoll(cur().value.c_str(), nullptr, 10)));
                    advance();
                    e->children.push_back(std::move(node));
                    e->children.push_back(std::move(idx));
                    node = std::move(e);
                } else {
                    fail("expected an attribute name after '.'");
                }
            } else if (is_op("[")) {
                node = parse_subscript(std::move(node));
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        Token at = cur();
        advance();
        ExprPtr parts[3];
        int colons = 0;
        if (!is_op(":")) parts[0] = parse_expression(true);
        while (is_op(":") && colons < 2) {
            advance();
            ++colons;
            if (!is_op(":") && !is_op("]")) parts[colons] = parse_expression(true);
        }
        expect_op("]");
        if (colons == 0) {
            auto e = make(ExprKind::GetItem, at);
            e->children.push_back(std::move(node));
            e->children.push_back(std::move(parts[0]));
            return e;
        }
        auto e = make(ExprKind::Slice, at);
        e->children.push_back(std::move(node));
        for (auto& p : parts) e->children.push_back(std::move(p));
        return e;
    }

    // Appends `( args )` to e (positional into children, keyword ones after, names in kw_names).
    void parse_args(Expr& e) {
        expect_op("(");
        size_t count = 0;
        while (!is_op(")")) {
            if (count++) expect_op(",");
            if (is_op(")")) break;
            if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "=") {
                e.kw_names.push_back(cur().value);
                advance();
                advance();
                e.children.push_back(parse_expression(true));
            } else {
                if (!e.kw_names.empty()) fail("positional argument follows keyword argument");
                e.children.push_back(parse_expression(true));
            }
        }
        advance();
    }

    ExprPtr parse_call(ExprPtr node) {
        auto e = make(ExprKind::Call, cur());
        e->children.push_back(std::move(node));
        parse_args(*e);
        return e;
    }

    std::string parse_dotted_name() {
        std::string name = expect_name();
        while (is_op(".")) {
            advance();
            name += "." + expect_name();
        }
        return name;
    }

    // `| f(args) | g ...`; with first_pipe=false the first filter has no leading pipe.
    ExprPtr parse_filter_chain(ExprPtr node, bool first_pipe = true) {
        bool first = true;
        while (is_op("|") || (first && !first_pipe)) {
            if (is_op("|")) advance();
            first = false;
            auto e = make(ExprKind::Filter, cur());
            e->name = parse_dotted_name();
            e->children.push_back(std::move(node));
            if (is_op("(")) parse_args(*e);
            node = std::move(e);
        }
        return node;
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (is_op("|")) {
                node = parse_filter_chain(std::move(node));
            } else if (is_name("is")) {
                auto e = make(ExprKind::Test, cur());
                advance();
                if (is_name("not")) {
                    e->negated = true;
                    advance();
                }
                e->name = parse_dotted_name();
                e->children.push_back(std::move(node));
                if (is_op("(")) {
                    parse_args(*e);
                } else if ((cur().type == TokenType::Name || cur().type == TokenType::String ||
                            cur().type == TokenType::Int || cur().type == TokenType::Float || is_op("[") ||
                            is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail("you cannot chain multiple tests with is");
                    e->children.push_back(parse_postfix(parse_primary()));
                }
                node = std::move(e);
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }
};

}  // namespace

std::shared_ptr<const Template> parse_template(const std::string& source, const LexerOptions& opt) {
    return Parser(tokenize(source, opt)).run();
}

}  // namespace hearth::jinja
