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

namespace {

// Shared shape of the typed getters: NULL checks, "key not found", then `read` under guarded().
template <typename Out, typename Fn>
hearth_status lookup(const hearth_gguf* file, const char* key, Out* out, const char* fn, Fn&& read) {
    if (!file || !key || !out) {
        g_last_error = std::string(fn) + ": file, key and out must not be NULL";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    const hearth::gguf::Value* v = file->file->find(key);
    if (!v) {
        g_last_error = std::string(fn) + ": key '" + key + "' not found";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    return guarded([&] { read(*v); });
}

}  // namespace

extern "C" {

const char* hearth_version(void) { return "0.1.0"; }

const char* hearth_last_error(void) { return g_last_error.c_str(); }

hearth_status hearth_gguf_open(const char* path, hearth_gguf** out) { return hearth_gguf_open_ex(path, 1, 0, out); }

hearth_status hearth_gguf_open_ex(const char* path, int use_mmap, int mlock, hearth_gguf** out) {
    if (!path || !out) {
        g_last_error = "hearth_gguf_open: path and out must not be NULL";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    *out = nullptr;
    return guarded([&] {
        auto handle = std::make_unique<hearth_gguf>();
        hearth::gguf::OpenOptions options;
        options.use_mmap = use_mmap != 0;
        options.mlock = mlock != 0;
        handle->file = hearth::gguf::File::open(path, options);
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

const char* hearth_gguf_mlock_warning(const hearth_gguf* file) {
    return file ? file->file->mlock_warning().c_str() : "";
}

uint32_t hearth_gguf_version(const hearth_gguf* file) { return file ? file->file->version() : 0; }

const char* hearth_gguf_kv_key(const hearth_gguf* file, int64_t index) {
    if (!file || index < 0 || static_cast<uint64_t>(index) >= file->file->kvs().size()) return nullptr;
    return file->file->kvs()[static_cast<size_t>(index)].key.c_str();
}

hearth_status hearth_gguf_get_string(const hearth_gguf* file, const char* key, const char** out) {
    return lookup(file, key, out, "hearth_gguf_get_string", [&](const hearth::gguf::Value& v) {
        (void)file->file->get_string(key);  // throws InvalidFile naming the key on a type mismatch
        *out = std::get<std::string>(v.scalar).c_str();
    });
}

hearth_status hearth_gguf_get_int(const hearth_gguf* file, const char* key, int64_t* out) {
    return lookup(file, key, out, "hearth_gguf_get_int", [&](const hearth::gguf::Value&) {
        *out = *file->file->get_int(key);
    });
}

hearth_status hearth_gguf_get_float(const hearth_gguf* file, const char* key, double* out) {
    return lookup(file, key, out, "hearth_gguf_get_float", [&](const hearth::gguf::Value&) {
        *out = *file->file->get_float(key);
    });
}

hearth_status hearth_gguf_tensor_info(const hearth_gguf* file, int64_t index, hearth_gguf_tensor* out) {
    if (!file || !out) {
        g_last_error = "hearth_gguf_tensor_info: file and out must not be NULL";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    const auto& tensors = file->file->tensors();
    if (index < 0 || static_cast<uint64_t>(index) >= tensors.size()) {
        g_last_error = "hearth_gguf_tensor_info: index " + std::to_string(index) + " out of range (" +
                       std::to_string(tensors.size()) + " tensors)";
        return HEARTH_ERR_INVALID_ARGUMENT;
    }
    const auto& t = tensors[static_cast<size_t>(index)];
    out->name = t.name.c_str();
    out->type = static_cast<uint32_t>(t.type);
    out->type_name = hearth::dtype_name(t.type);
    out->n_dims = t.n_dims;
    for (int d = 0; d < 4; ++d) out->ne[d] = t.ne[d];
    out->offset = t.offset;
    out->nbytes = t.nbytes;
    out->data = file->file->tensor_data(t);
    return HEARTH_OK;
}

int64_t hearth_gguf_find_tensor(const hearth_gguf* file, const char* name) {
    if (!file || !name) return -1;
    const auto* t = file->file->find_tensor(name);
    return t ? static_cast<int64_t>(t - file->file->tensors().data()) : -1;
}

}  // extern "C"

namespace hearth::capi {
// Lets the other c_api_*.cpp files (see c_api_internal.h) report through hearth_last_error().
void set_last_error(const std::string& message) { g_last_error = message; }
hearth_status status_for_kind(ErrorKind kind) { return status_of(kind); }
}  // namespace hearth::capi
