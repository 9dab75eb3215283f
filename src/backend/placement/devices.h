// The device registry: which accelerators this build and machine have, and the resolution of a
// --device list into the one to offload to. A CPU-only selection never touches the CUDA runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "backend/placement/placement.h"

namespace hearth::placement {

// Whether hearth was built with the CUDA backend (-DHEARTH_CUDA=ON).
bool cuda_built();

// Every CUDA device with its memory (initialises the CUDA runtime). Empty on a CPU-only build or a
// machine without a usable driver/device.
std::vector<DeviceInfo> list_accelerators();

// The accelerator named in `devices` (a --device list), or nullopt when it names none ("none" or
// only "cpu"; then CUDA is not initialised). Throws Error(Unsupported) "hearth was built without
// CUDA" for cudaN on a CPU-only build, Error(InvalidArgument) for a device that does not exist, and
// Error(Unsupported) when more than one accelerator is listed.
std::optional<DeviceInfo> resolve_accelerator(const std::vector<DeviceId>& devices);

// A backend for `device`: the CPU backend (n_threads <= 0: all cores) or CudaBackend. Throws the
// same "built without CUDA" / "no such device" errors as resolve_accelerator.
std::unique_ptr<Backend> create_backend(const DeviceId& device, int n_threads = 0);

}  // namespace hearth::placement
