// Jinja parser: turns the lexer's token stream into a Template syntax tree, following jinja2's
// operator precedence (or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filter).
#pragma once

#include <memory>
#include <string>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace hearth::jinja {

// Throws hearth::Error (InvalidArgument) "template syntax error at LINE:COL: ..." on bad syntax.
// Nesting deeper than a fixed limit is rejected so hostile input cannot overflow the stack.
std::shared_ptr<const Template> parse_template(const std::string& source, const LexerOptions& opt = {});

}  // namespace hearth::jinja
