// JSON prefix automaton and segment-based output constraint (see json_constraint.h).
#include "server/json_constraint.h"

namespace hearth::server {

namespace {
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr uint8_t kHexFirstD = 0x80;  // flag bit in JsonPrefix::hex_left_ (see State::Hex)
}  // namespace

bool JsonPrefix::end_value() {
    state_ = stack_.empty() ? State::Done : State::After;
    return true;
}

// A number ends at the first byte that cannot extend it; that byte is then read as what follows.
bool JsonPrefix::end_number(char c) {
    if (stack_.empty()) return false;  // top-level numbers are not produced (object_only or not)
    end_value();
    return feed(c);
}

bool JsonPrefix::feed(char c) {
    const bool in_string = state_ == State::Str || state_ == State::Esc || state_ == State::Hex;
    if (!in_string && is_ws(c)) {
        if (state_ == State::Value && stack_.empty()) return false;  // the value starts at once
        if (++ws_run_ > 64) return false;
    } else {
        ws_run_ = 0;
    }
    switch (state_) {
        case State::Value:
        case State::ArrFirst:
            if (is_ws(c)) return true;
            if (state_ == State::ArrFirst && c == ']') {
                stack_.pop_back();
                return end_value();
            }
            if (object_only_ && stack_.empty() && c != '{') return false;
            if (stack_.size() >= 32 && (c == '{' || c == '[')) return false;  // bounded depth
            switch (c) {
                case '{': stack_.push_back('{'); state_ = State::ObjFirst; return true;
                case '[': stack_.push_back('['); state_ = State::ArrFirst; return true;
                case '"': key_ = false; state_ = State::Str; return true;
                case '-': state_ = State::NumMinus; return true;
                case '0': state_ = State::NumZero; return true;
                case 't': lit_ = "true"; break;
                case 'f': lit_ = "false"; break;
                case 'n': lit_ = "null"; break;
                default:
                    if (c >= '1' && c <= '9') {
                        state_ = State::NumInt;
                        return true;
                    }
                    return false;
            }
            lit_pos_ = 1;
            state_ = State::Literal;
            return true;
        case State::ObjFirst:
        case State::ObjKey:
            if (is_ws(c)) return true;
            if (state_ == State::ObjFirst && c == '}') {
                stack_.pop_back();
                return end_value();
            }
            if (c != '"') return false;
            key_ = true;
            state_ = State::Str;
            return true;
        case State::Colon:
            if (is_ws(c)) return true;
            if (c != ':') return false;
            state_ = State::Value;
            return true;
        case State::After:
            if (is_ws(c)) return true;
            if (c == ',') {
                state_ = stack_.back() == '{' ? State::ObjKey : State::Value;
                return true;
            }
            if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
                stack_.pop_back();
                return end_value();
            }
            return false;
        case State::Str:
            if (c == '"') {
                if (key_) {
                    state_ = State::Colon;
                    return true;
                }
                return end_value();
            }
            if (c == '\\') {
                state_ = State::Esc;
                return true;
            }
            return static_cast<unsigned char>(c) >= 0x20;
        case State::Esc:
            if (c == 'u') {
                hex_left_ = 4;
                state_ = State::Hex;
                return true;
            }
            if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
                state_ = State::Str;
                return true;
            }
            return false;
        case State::Hex: {
            // \uD800-\uDFFF (UTF-16 surrogates) are refused: a lone one is invalid JSON to strict
            // parsers (nlohmann), and a supplementary character can be written as raw UTF-8.
            // hex_left_: digits still expected (low 3 bits) | kHexFirstD when the first digit was 'd'.
            if (!is_hex(c)) return false;
            const uint8_t left = hex_left_ & 7;
            if (left == 4 && (c == 'd' || c == 'D')) hex_left_ |= kHexFirstD;
            if (left == 3 && (hex_left_ & kHexFirstD) && !(c >= '0' && c <= '7')) return false;
            hex_left_ = static_cast<uint8_t>((hex_left_ & kHexFirstD) | (left - 1));
            if (left == 1) state_ = State::Str;
            return true;
        }
        case State::NumMinus:
            if (c == '0') state_ = State::NumZero;
            else if (c >= '1' && c <= '9') state_ = State::NumInt;
            else return false;
            return true;
        case State::NumZero:
        case State::NumInt:
            if (state_ == State::NumInt && is_digit(c)) return true;
            if (c == '.') {
                state_ = State::FracStart;
                return true;
            }
            if (c == 'e' || c == 'E') {
                state_ = State::ExpStart;
                return true;
            }
            return end_number(c);
        case State::FracStart:
            if (!is_digit(c)) return false;
            state_ = State::Frac;
            return true;
        case State::Frac:
            if (is_digit(c)) return true;
            if (c == 'e' || c == 'E') {
                state_ = State::ExpStart;
                return true;
            }
            return end_number(c);
        case State::ExpStart:
            if (c == '+' || c == '-') {
                state_ = State::ExpSign;
                return true;
            }
            if (!is_digit(c)) return false;
            state_ = State::Exp;
            return true;
        case State::ExpSign:
            if (!is_digit(c)) return false;
            state_ = State::Exp;
            return true;
        case State::Exp:
            if (is_digit(c)) return true;
            return end_number(c);
        case State::Literal:
            if (c != lit_[lit_pos_]) return false;
            if (lit_[++lit_pos_] == '\0') return end_value();
            return true;
        case State::Done:
            return false;
    }
    return false;
}

std::string JsonPrefix::closing() const {
    std::string out;
    switch (state_) {
        case State::Value: out = stack_.empty() ? "{" : "null"; break;
        case State::ArrFirst: case State::ObjFirst: case State::After: break;
        case State::ObjKey: out = "\"\":null"; break;
        case State::Colon: out = ":null"; break;
        case State::Str: out = key_ ? "\":null" : "\""; break;
        case State::Esc: out = key_ ? "n\":null" : "n\""; break;
        case State::Hex: out = std::string(hex_left_ & 7, '0') + (key_ ? "\":null" : "\""); break;
        case State::NumMinus: case State::FracStart: case State::ExpStart: case State::ExpSign: out = "0"; break;
        case State::NumZero: case State::NumInt: case State::Frac: case State::Exp: break;
        case State::Literal: out = lit_ + lit_pos_; break;
        case State::Done: return "";
    }
    if (stack_.empty() && state_ == State::Value) return "{}";
    for (size_t i = stack_.size(); i-- > 0;) out += stack_[i] == '{' ? '}' : ']';
    return out;
}

std::shared_ptr<OutputConstraint> OutputConstraint::json_object() {
    auto c = std::make_shared<OutputConstraint>();
    c->segs_.push_back({true, {}});
    return c;
}

std::shared_ptr<OutputConstraint> OutputConstraint::tool_call(const std::vector<std::string>& names) {
    auto c = std::make_shared<OutputConstraint>();
    c->segs_.push_back({false, {"{\"name\": \""}});
    Segment name;
    for (const auto& n : names) name.alternatives.push_back(n + "\", \"arguments\": ");
    c->segs_.push_back(name);
    c->segs_.push_back({true, {}});
    c->segs_.push_back({false, {"}"}});
    return c;
}

bool OutputConstraint::feed(State& st, char c) const {
    if (st.seg >= segs_.size()) return false;
    const Segment& s = segs_[st.seg];
    if (s.json) {
        if (!st.json.feed(c)) return false;
        if (st.json.complete()) {
            ++st.seg;
            st.typed.clear();
        }
        return true;
    }
    st.typed.push_back(c);
    bool prefix = false;
    for (const auto& alt : s.alternatives) {
        if (alt.compare(0, st.typed.size(), st.typed) != 0) continue;
        prefix = true;
        if (alt.size() == st.typed.size()) {  // alternatives end in a delimiter: none prefixes another
            ++st.seg;
            st.typed.clear();
            st.json = JsonPrefix(true);
            return true;
        }
    }
    return prefix;
}

bool OutputConstraint::accepts(std::string_view piece) const {
    if (piece.empty()) return false;  // would never make progress
    State copy = st_;
    for (char c : piece)
        if (!feed(copy, c)) return false;
    return true;
}

std::string OutputConstraint::closing() const { return closing_of(st_); }

std::string OutputConstraint::closing_of(const State& st) const {
    std::string out;
    for (size_t i = st.seg; i < segs_.size(); ++i) {
        const Segment& s = segs_[i];
        if (s.json) {
            out += i == st.seg ? st.json.closing() : "{}";
            continue;
        }
        const std::string& typed = i == st.seg ? st.typed : std::string();
        for (const auto& alt : s.alternatives) {  // the first alternative still possible
            if (alt.compare(0, typed.size(), typed) == 0) {
                out += alt.substr(typed.size());
                break;
            }
        }
    }
    return out;
}

bool OutputConstraint::accepts_within(std::string_view piece, size_t budget) const {
    if (piece.empty()) return false;
    State copy = st_;
    for (char c : piece)
        if (!feed(copy, c)) return false;
    return closing_of(copy).size() <= budget;
}

void OutputConstraint::advance(std::string_view piece) {
    for (char c : piece) feed(st_, c);
}

}  // namespace hearth::server
