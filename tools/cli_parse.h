// Number parsing for command-line options shared by the model commands (run, perplexity, bench,
// gen-model): the whole value must parse, else Error(InvalidArgument) naming the option (exit 2).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace hearth::cli {

inline int64_t parse_int(const std::string& opt, const std::string& v) {
    try {
        size_t pos = 0;
        const long long x = std::stoll(v, &pos);
        if (pos == v.size()) return x;
    } catch (const std::exception&) {
    }
    throw Error(ErrorKind::InvalidArgument, "option " + opt + " expects an integer, got '" + v + "'");
}

inline float parse_float(const std::string& opt, const std::string& v) {
    try {
        size_t pos = 0;
        const float x = std::stof(v, &pos);
        if (pos == v.size()) return x;
    } catch (const std::exception&) {
    }
    throw Error(ErrorKind::InvalidArgument, "option " + opt + " expects a number, got '" + v + "'");
}

}  // namespace hearth::cli
