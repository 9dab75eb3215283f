// Out-of-line parts of the error helpers: kind names and the assertion failure path.
#include "core/error.h"

namespace hearth {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::InvalidFile: return "invalid file";
        case ErrorKind::InvalidArgument: return "invalid argument";
        case ErrorKind::Unsupported: return "unsupported";
        case ErrorKind::OutOfMemory: return "out of memory";
        case ErrorKind::Io: return "i/o error";
        case ErrorKind::Cancelled: return "cancelled";
        case ErrorKind::Internal: return "internal error";
    }
    return "error";
}

void assert_fail(const char* expr, const char* file, int line, const char* msg) {
    std::fprintf(stderr, "hearth: internal invariant broken at %s:%d: %s%s%s\n", file, line, expr,
                 msg ? " — " : "", msg ? msg : "");
    std::fflush(stderr);
    std::abort();
}

}  // namespace hearth
