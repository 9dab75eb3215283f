// Internal glue shared by the C API translation units (c_api.cpp owns the per-thread error slot
// read by hearth_last_error(); other c_api_*.cpp files record their failures through this).
#pragma once

#include <string>

namespace hearth::capi {

void set_last_error(const std::string& message);

}  // namespace hearth::capi
