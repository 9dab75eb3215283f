// Internal glue shared by the C API translation units (c_api.cpp owns the per-thread error slot
// read by hearth_last_error(); other c_api_*.cpp files record their failures through this).
#pragma once

#include <exception>
#include <new>
#include <string>

#include "core/error.h"
#include "hearth/hearth.h"

namespace hearth::capi {

void set_last_error(const std::string& message);
hearth_status status_for_kind(ErrorKind kind);

// Runs fn, mapping exceptions to a status and recording the message.
template <typename Fn>
hearth_status run_guarded(Fn&& fn) {
    try {
        fn();
        return HEARTH_OK;
    } catch (const Error& e) {
        set_last_error(e.what());
        return status_for_kind(e.kind());
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return HEARTH_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(e.what());
        return HEARTH_ERR_INTERNAL;
    }
}

}  // namespace hearth::capi
