// Jinja lexer: text/tag splitting with jinja2's whitespace rules, then expression tokens inside tags.
#include "chat/jinja_lexer.h"

#include <algorithm>
#include <cstring>

#include "chat/jinja_format.h"
#include "core/error.h"

namespace hearth::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
public:
    Lexer(std::string src, const LexerOptions& opt) : src_(std::move(src)), opt_(opt) {
        for (size_t i = 0; i < src_.size(); ++i)
            if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        const size_t n = src_.size();
        while (pos < n) {
            size_t tag = find_tag(pos);
            std::string text = src_.substr(pos, (tag == std::string::npos ? n : tag) - pos);
            if (tag == std::string::npos) {
                emit(TokenType::Text, text, pos);
                break;
            }
            const char kind = src_[tag + 1];  // '{', '%' or '#'
            const char marker = tag + 2 < n ? src_[tag + 2] : '\0';
            if (marker == '-') {
                while (!text.empty() && is_space(text.back())) text.pop_back();
            } else if (kind != '{' && opt_.lstrip_blocks && marker != '+') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
                    std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l_pos), text.end(), is_space))
                    text.resize(l_pos);
            }
            if (!text.empty()) emit(TokenType::Text, text, pos);
            size_t p = tag + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
            size_t end;  // position just after the closing delimiter
            bool strip_after = false, keep_newline = false;
            if (kind == '#') {
                size_t close = src_.find("#}", p);
                if (close == std::string::npos) fail(tag, "missing end of comment tag");
                strip_after = close > p && src_[close - 1] == '-';
                keep_newline = close > p && src_[close - 1] == '+';
                end = close + 2;
            } else if (kind == '%' && is_raw_block(p)) {
                end = lex_raw(tag, p);
                line_starting = end > 0 && src_[end - 1] == '\n';
                pos = end;
                continue;
            } else {
                emit(kind == '{' ? TokenType::VarBegin : TokenType::BlockBegin, "", tag);
                end = lex_expression(p, kind == '{' ? '}' : '%', strip_after, keep_newline);
                emit(kind == '{' ? TokenType::VarEnd : TokenType::BlockEnd, "", end - 2);
            }
            size_t after = end;
            if (strip_after) {
                while (after < n && is_space(src_[after])) ++after;
            } else if (kind != '{' && opt_.trim_blocks && !keep_newline && after < n && src_[after] == '\n') {
                ++after;
            }
            line_starting = after > 0 && src_[after - 1] == '\n';
            pos = after;
        }
        emit(TokenType::Eof, "", n);
        return std::move(tokens_);
    }

private:
    std::string src_;
    LexerOptions opt_;
    std::vector<size_t> line_starts_{0};
    std::vector<Token> tokens_;

    [[noreturn]] void fail(size_t offset, const std::string& msg) {
        auto [line, col] = position(offset);
        throw Error(ErrorKind::InvalidArgument,
                    "template syntax error at " + std::to_string(line) + ":" + std::to_string(col) + ": " + msg);
    }

    std::pair<int, int> position(size_t offset) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
        size_t line = static_cast<size_t>(it - line_starts_.begin());
        return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
    }

    void emit(TokenType t, std::string value, size_t offset) {
        auto [line, col] = position(offset);
        tokens_.push_back(Token{t, std::move(value), line, col});
    }

    size_t find_tag(size_t pos) const {
        while (true) {
            size_t b = src_.find('{', pos);
            if (b == std::string::npos || b + 1 >= src_.size()) return std::string::npos;
            char c = src_[b + 1];
            if (c == '{' || c == '%' || c == '#') return b;
            pos = b + 1;
        }
    }

    // `{% raw %}` (with optional -/+ markers) starts at p (just after `{%` and its marker)?
    bool is_raw_block(size_t p) const {
        while (p < src_.size() && is_space(src_[p])) ++p;
        if (src_.compare(p, 3, "raw") != 0) return false;
        p += 3;
        while (p < src_.size() && is_space(src_[p])) ++p;
        if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
        return src_.compare(p, 2, "%}") == 0;
    }

    // Emits the verbatim text of a raw block; returns the position after `{% endraw %}`.
    size_t lex_raw(size_t tag, size_t p) {
        size_t close = src_.find("%}", p);
        bool strip_start = src_[close - 1] == '-';
        size_t body = close + 2;
        size_t search = body;
        while (true) {
            size_t b = src_.find("{%", search);
            if (b == std::string::npos) fail(tag, "missing end of raw directive");
            size_t q = b + 2;
            bool strip_end = q < src_.size() && src_[q] == '-';
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
            while (q < src_.size() && is_space(src_[q])) ++q;
            if (src_.compare(q, 6, "endraw") != 0) {
                search = b + 2;
                continue;
            }
            q += 6;
            while (q < src_.size() && is_space(src_[q])) ++q;
            bool strip_after = q < src_.size() && src_[q] == '-';
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
            if (src_.compare(q, 2, "%}") != 0) fail(b, "malformed endraw tag");
            std::string text = src_.substr(body, b - body);
            if (strip_start)
                text.erase(0, static_cast<size_t>(std::find_if_not(text.begin(), text.end(), is_space) - text.begin()));
            if (strip_end)
                while (!text.empty() && is_space(text.back())) text.pop_back();
            if (!text.empty()) emit(TokenType::Text, text, body);
            size_t after = q + 2;
            if (strip_after) {
                while (after < src_.size() && is_space(src_[after])) ++after;
            } else if (opt_.trim_blocks && after < src_.size() && src_[after] == '\n') {
                ++after;
            }
            return after;
        }
    }

    // Lexes expression tokens until the closing `}}` / `%}`; returns the position after it.
    size_t lex_expression(size_t p, char closer, bool& strip_after, bool& keep_newline) {
        const size_t n = src_.size();
        int depth = 0;  // open brackets: a closing delimiter inside them is not the tag's end
        while (true) {
            while (p < n && is_space(src_[p])) ++p;
            if (p >= n) fail(p, closer == '}' ? "unexpected end of template, expected '}}'"
                                               : "unexpected end of template, expected '%}'");
            char c = src_[p];
            if (depth == 0) {
                if ((c == '-' || c == '+') && p + 2 < n && src_[p + 1] == closer && src_[p + 2] == '}') {
                    strip_after = c == '-';
                    keep_newline = c == '+';
                    return p + 3;
                }
                if (c == closer && p + 1 < n && src_[p + 1] == '}') return p + 2;
            }
            if (is_name_start(c)) {
                size_t b = p;
                while (p < n && is_name_char(src_[p])) ++p;
                emit(TokenType::Name, src_.substr(b, p - b), b);
            } else if (is_digit(c)) {
                p = lex_number(p);
            } else if (c == '\'' || c == '"') {
                p = lex_string(p);
            } else {
                static const char* const ops2[] = {"//", "**", "==", "!=", "<=", ">="};
                bool matched = false;
                for (const char* op : ops2) {
                    if (src_.compare(p, 2, op) == 0) {
                        emit(TokenType::Op, op, p);
                        p += 2;
                        matched = true;
                        break;
                    }
                }
                if (matched) continue;
                if (!std::strchr("+-*/%~<>=()[]{},.:|;", c) || c == '\0')
                    fail(p, std::string("unexpected character '") + c + "'");
                if (c == '(' || c == '[' || c == '{') ++depth;
                if (c == ')' || c == ']' || c == '}') {
                    if (depth == 0) fail(p, std::string("unexpected '") + c + "'");
                    --depth;
                }
                emit(TokenType::Op, std::string(1, c), p);
                ++p;
            }
        }
    }

    size_t lex_number(size_t p) {
        const size_t n = src_.size();
        size_t b = p;
        auto digits = [&] {
            while (p < n && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < n && is_digit(src_[p + 1])))) ++p;
        };
        digits();
        bool is_float = false;
        bool after_dot = b > 0 && src_[b - 1] == '.';  // `x.0.1` is two attribute lookups
        if (!after_dot && p + 1 < n && src_[p] == '.' && is_digit(src_[p + 1])) {
            ++p;
            digits();
            is_float = true;
        }
        if (!after_dot && p < n && (src_[p] == 'e' || src_[p] == 'E')) {
            size_t q = p + 1;
            if (q < n && (src_[q] == '+' || src_[q] == '-')) ++q;
            if (q < n && is_digit(src_[q])) {
                p = q;
                digits();
                is_float = true;
            }
        }
        std::string spelling;
        for (size_t i = b; i < p; ++i)
            if (src_[i] != '_') spelling += src_[i];
        emit(is_float ? TokenType::Float : TokenType::Int, spelling, b);
        return p;
    }

    size_t lex_string(size_t p) {
        const size_t n = src_.size();
        const char q = src_[p];
        size_t b = p++;
        std::string out;
        auto hex = [&](int count) -> uint32_t {
            uint32_t v = 0;
            for (int i = 0; i < count; ++i) {
                char h = p < n ? src_[p] : '\0';
                int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                if (d < 0) fail(p, "truncated \\x/\\u escape in string literal");
                v = v * 16 + static_cast<uint32_t>(d);
                ++p;
            }
            return v;
        };
        while (true) {
            if (p >= n) fail(b, "unterminated string literal");
            char c = src_[p];
            if (c == q) {
                ++p;
                break;
            }
            if (c != '\\') {
                out += c;
                ++p;
                continue;
            }
            if (p + 1 >= n) fail(b, "unterminated string literal");
            char e = src_[p + 1];
            p += 2;
            switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case '\n': break;  // line continuation
                case 'x': utf8_append(out, hex(2)); break;
                case 'u': utf8_append(out, hex(4)); break;
                case 'U': {
                    uint32_t cp = hex(8);
                    if (cp > 0x10FFFF) fail(b, "illegal Unicode character in string literal");
                    utf8_append(out, cp);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t v = static_cast<uint32_t>(e - '0');
                        for (int k = 0; k < 2 && p < n && src_[p] >= '0' && src_[p] <= '7'; ++k, ++p)
                            v = v * 8 + static_cast<uint32_t>(src_[p] - '0');
                        utf8_append(out, v);
                    } else {
                        out += '\\';
                        out += e;
                    }
            }
        }
        emit(TokenType::String, out, b);
        return p;
    }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const LexerOptions& opt) {
    std::string src;
    src.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {  // \r\n and \r become \n, as in jinja2
        if (source[i] == '\r') {
            src += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            src += source[i];
        }
    }
    if (!opt.keep_trailing_newline && !src.empty() && src.back() == '\n') src.pop_back();
    return Lexer(std::move(src), opt).run();
}

}  // namespace hearth::jinja
