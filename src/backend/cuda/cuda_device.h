// CUDA device enumeration for the device registry (backend/placement/devices.h). device_count()
// is the only way hearth first touches the CUDA runtime, and it counts its calls so tests can prove
// that a CPU-only run (--device none, -ngl 0) never initialises CUDA.
#pragma once

#include <cstdint>
#include <string>

namespace hearth::cuda {

struct DeviceProps {
    std::string name;
    uint64_t total_bytes = 0;
    uint64_t free_bytes = 0;
    int cc_major = 0, cc_minor = 0;
};

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws for that).
int device_count();
// Name, memory and compute capability of device i (cudaMemGetInfo on it). Throws Error naming the call.
DeviceProps device_props(int i);
// How many times device_count() ran in this process (the CUDA-initialisation probe).
uint64_t device_count_calls();

}  // namespace hearth::cuda
