// Implementation of the C ABI in include/hearth/hearth.h: wraps C++ calls, turns hearth::Error
// into status codes and keeps the message per thread for hearth_last_error().
#include "hearth/hearth.h"

#include <memory>
#include <new>
#include <string>

#include "core/error.h"
#include "api/c_api_internal.h"
#include "gguf/gguf.h"

namespace {

thread_local std::string g_last_error;

hearth_status status_of(hearth::ErrorKind kind) {
    switch (kind) {
        case hearth::ErrorKind::InvalidFile: return HEARTH_ERR_INVALID_FILE;
        case hearth::ErrorKind::InvalidArgument: return HEARTH_ERR_INVALID_ARGUMENT;
        case hearth::ErrorKind::Unsupported: return HEARTH_ERR_UNSUPPORTED;
        case hearth::ErrorKind::OutOfMemory: return HEARTH_ERR_OUT_OF_MEMORY;
        case hearth::ErrorKind::Io: return HEARTH_ERR_IO;
        case hearth::ErrorKind::Cancelled: return HEARTH_ERR_CANCELLED;
        case hearth::ErrorKind::Internal: return HEARTH_ERR_INTERNAL;
    }
    return HEARTH_ERR_INTERNAL;
}

// Runs fn, mapping exceptions to a status and recording the message.
template <typename Fn>
hearth_status guarded(Fn&& fn) {
    try {
        fn();
        return HEARTH_OK;
    } catch (const hearth::Error& e) {
        g_last_error = e.what();
        return status_of(e.kind());
    } catch (const std::bad_alloc&) {
        g_last_error = "out of memory";
        return HEARTH_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        g_last_error = e.what();
        return HEARTH_ERR_INTERNAL;
    }
}

}  // namespace

struct hearth_gguf {
    std::unique_ptr<hearth::gguf::File> file;
    std::string architecture;
};

extern "C" {

const char* hearth_version(void) { return "0.1.0"; }

const char* hearth_last_error(void) { return g_last_error.c_str(); }

hearth_status hearth_gguf_open(const char* path, hearth_gguf** out) {
    if (!path || !out) {
        g_last_error = "hearth_gguf_open: path and out must not be NULL";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    *out = nullptr;
    return guarded([&] {
        auto handle = std::make_unique<hearth_gguf>();
        handle->file = hearth::gguf::File::open(path);
        handle->architecture = handle->file->get_string("general.architecture").value_or("");
        *out = handle.release();
    });
}

void hearth_gguf_close(hearth_gguf* file) { delete file; }

int64_t hearth_gguf_tensor_count(const hearth_gguf* file) {
    return file ? static_cast<int64_t>(file->file->tensors().size()) : -1;
}

int64_t hearth_gguf_kv_count(const hearth_gguf* file) {
    return file ? static_cast<int64_t>(file->file->kvs().size()) : -1;
}

const char* hearth_gguf_architecture(const hearth_gguf* file) {
    return file ? file->architecture.c_str() : "";
}

}  // extern "C"

namespace hearth::capi {
// Lets the other c_api_*.cpp files (see c_api_internal.h) report through hearth_last_error().
void set_last_error(const std::string& message) { g_last_error = message; }
}  // namespace hearth::capi
