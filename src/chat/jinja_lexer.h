// Jinja lexer: splits template source into text, `{{ }}` / `{% %}` delimiters and expression
// tokens, applying whitespace control (`-`/`+` markers, trim_blocks, lstrip_blocks) the way
// jinja2's lexer does, so rendered whitespace matches Hugging Face's apply_chat_template exactly.
#pragma once

#include <string>
#include <vector>

namespace hearth::jinja {

enum class TokenType { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    TokenType type;
    std::string value;  // text / name / decoded string literal / number spelling / operator
    int line = 1;
    int col = 1;
};

struct LexerOptions {
    bool trim_blocks = true;             // drop the first newline after a block tag
    bool lstrip_blocks = true;           // drop spaces/tabs before a block tag on its own line
    bool keep_trailing_newline = false;  // jinja2 default: one trailing newline is removed
};

// Throws hearth::Error (InvalidArgument) with line:column on malformed input.
std::vector<Token> tokenize(const std::string& source, const LexerOptions& opt);

}  // namespace hearth::jinja
