// The inference context of the runtime API (see runtime/runtime_context.h for the declaration):
// exported here as hearth::Context for the server, the CLI and the C API.
#pragma once

#include "runtime/runtime_context.h"

namespace hearth {
using runtime::Context;
}  // namespace hearth
