// Typed errors and invariant checks shared by every layer of hearth.
// Bad input (a malformed file, a wrong argument, an impossible budget) throws hearth::Error with a
// kind and a message a user can act on; the C API maps the kind to a status code. Broken internal
// invariants are bugs, not input errors: HEARTH_ASSERT aborts with file and line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace hearth {

enum class ErrorKind {
    InvalidFile,      // a GGUF (or other input file) is malformed or inconsistent
    InvalidArgument,  // a caller or user passed a value outside what is accepted
    Unsupported,      // well-formed, but a feature/type/architecture hearth does not handle
    OutOfMemory,      // an allocation or a memory budget cannot be satisfied
    Io,               // the OS refused a file operation
    Cancelled,        // the caller asked to stop
    Internal,         // unexpected failure that is not a broken invariant (e.g. a library error)
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);

}  // namespace hearth

// Invariant check, always on (also in Release): a failure is a bug in hearth, never bad input.
#define HEARTH_ASSERT(cond)                                                           \
    do {                                                                              \
        if (!(cond)) ::hearth::assert_fail(#cond, __FILE__, __LINE__, nullptr);       \
    } while (0)
#define HEARTH_ASSERT_MSG(cond, msg)                                                  \
    do {                                                                              \
        if (!(cond)) ::hearth::assert_fail(#cond, __FILE__, __LINE__, (msg));         \
    } while (0)
