// Constrained output for response_format json_object and forced tool calls: a byte-level JSON
// prefix validator (no leading whitespace, whitespace runs of at most 64 bytes), and an OutputConstraint made of segments (literal alternatives, then a JSON
// object, then literals) that says whether a token's bytes may extend the output. The scheduler
// masks every token whose piece it rejects before sampling.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

// Accepts exactly the byte strings that are prefixes of one JSON value (RFC 8259 grammar; string
// contents are not UTF-8-checked). object_only: the value must be an object.
class JsonPrefix {
public:
    explicit JsonPrefix(bool object_only = true) : object_only_(object_only) {}
    bool feed(char c);  // false: c cannot continue a valid value (the state is then unspecified)
    bool complete() const { return state_ == State::Done; }
    // Shortest bytes that complete the value from here (e.g. "\"}]" inside a string in an array
    // in an object); "" when complete. Numbers end with their closing delimiter.
    std::string closing() const;

private:
    enum class State : uint8_t {
        Value, ArrFirst, ObjFirst, ObjKey, Colon, After, Str, Esc, Hex,
        NumMinus, NumZero, NumInt, FracStart, Frac, ExpStart, ExpSign, Exp, Literal, Done,
    };
    bool end_value();
    bool end_number(char c);

    bool object_only_;
    State state_ = State::Value;
    std::string stack_;     // '{' / '[' of the open containers
    bool key_ = false;      // the open string is an object key
    uint8_t hex_left_ = 0;  // \uXXXX digits still expected
    const char* lit_ = nullptr;  // "true" / "false" / "null" being matched
    uint8_t lit_pos_ = 0;
    uint16_t ws_run_ = 0;  // consecutive whitespace bytes outside strings (capped: no endless padding)
};

class OutputConstraint {
public:
    // Output must be one JSON object.
    static std::shared_ptr<OutputConstraint> json_object();
    // Output must be {"name": "<one of names>", "arguments": {...}}.
    static std::shared_ptr<OutputConstraint> tool_call(const std::vector<std::string>& names);

    bool accepts(std::string_view piece) const;  // piece may follow the output so far
    // accepts(piece), and afterwards the output can still be completed in at most `budget` bytes
    // (the scheduler passes the tokens left after this one: every byte has a one-byte token).
    bool accepts_within(std::string_view piece, size_t budget) const;
    void advance(std::string_view piece);        // records an accepted piece
    bool done() const { return st_.seg == segs_.size(); }
    // Shortest bytes that complete the constrained output from here (for a tight token budget).
    std::string closing() const;

private:
    struct Segment {
        bool json = false;               // a JSON object; otherwise one of `alternatives`
        std::vector<std::string> alternatives;
    };
    // The mutable part, copied per candidate token (small: no heap use for typical outputs).
    struct State {
        size_t seg = 0;
        std::string typed;  // bytes of the current literal segment so far
        JsonPrefix json;
    };
    bool feed(State& st, char c) const;
    std::string closing_of(const State& st) const;

    std::vector<Segment> segs_;
    State st_;
};

}  // namespace hearth::server
