// The Jinja syntax tree produced by the parser and walked by the interpreter: expression nodes
// (literals, names, operators, calls, filters, tests) and statement nodes (text, output, if, for,
// set, macro, call, filter blocks, loop control).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace hearth::jinja {

enum class ExprKind {
    Literal,   // literal
    Name,      // name
    List,      // children = items
    Tuple,     // children = items
    Dict,      // children = key0, value0, key1, value1, ...
    GetAttr,   // children[0] . name
    GetItem,   // children[0] [ children[1] ]
    Slice,     // children[0] [ children[1] : children[2] : children[3] ] (null = omitted)
    Call,      // children[0] ( children[1..] ); the last kw_names.size() args are keyword args
    Filter,    // children[0] | name ( children[1..] ); children[0] null inside {% filter %}
    Test,      // children[0] is [not] name ( children[1..] )
    Not,       // not children[0]
    Neg,       // - children[0]
    Pos,       // + children[0]
    Binary,    // children[0] op children[1]: and or + - * / // % ** ~
    Compare,   // children[0] ops[0] children[1] ops[1] children[2] ...: == != < <= > >= in notin
    CondExpr,  // children[1] if children[0] else children[2] (children[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind;
    int line = 0, col = 0;
    Value literal;
    std::string name;                  // Name / GetAttr attribute / Filter / Test / Binary operator
    std::vector<ExprPtr> children;
    std::vector<std::string> kw_names;  // Call / Filter / Test keyword-argument names
    std::vector<std::string> ops;       // Compare operators
    bool negated = false;               // Test: `is not`
};

enum class StmtKind { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, Break, Continue, With, Scope };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
    StmtKind kind;
    int line = 0, col = 0;
    std::string text;                                // Text; Set: namespace attribute (`ns.attr`)
    ExprPtr expr;                                    // Output / Set value / For iterable / Call / Filter chain
    ExprPtr filter;                                  // For: loop filter (`for x in y if cond`)
    std::vector<std::string> names;                  // For / Set targets; Macro: its name in names[0]
    std::vector<std::pair<ExprPtr, Body>> branches;  // If: (condition, body) for if and each elif
    Body body, else_body;
    std::vector<std::pair<std::string, ExprPtr>> params;  // Macro / CallBlock parameters, With assignments
    bool recursive = false;
};

// A parsed template: the top-level statement list.
struct Template {
    Body body;
};

}  // namespace hearth::jinja
