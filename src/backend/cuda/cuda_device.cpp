// CUDA device enumeration (see cuda_device.h).
#include "backend/cuda/cuda_device.h"

#include <atomic>

#include "backend/cuda/cuda_check.h"
#include "core/error.h"

namespace hearth::cuda {
namespace {
std::atomic<uint64_t> g_count_calls{0};
}

int device_count() {
    g_count_calls.fetch_add(1, std::memory_order_relaxed);
    int n = 0;
    // No driver, no device, or a driver too old for this runtime: no usable device (not an error).
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free error state
        return 0;
    }
    return n;
}

DeviceProps device_props(int i) {
    const int n = device_count();
    if (i < 0 || i >= n)
        throw Error(ErrorKind::InvalidArgument, "no CUDA device " + std::to_string(i) + " (found " + std::to_string(n) + ")");
    cudaDeviceProp p{};
    HEARTH_CUDA_CHECK(cudaGetDeviceProperties(&p, i));
    int prev = 0;
    HEARTH_CUDA_CHECK(cudaGetDevice(&prev));
    HEARTH_CUDA_CHECK(cudaSetDevice(i));
    size_t free_b = 0, total_b = 0;
    HEARTH_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    HEARTH_CUDA_CHECK(cudaSetDevice(prev));
    return DeviceProps{p.name, total_b, free_b, p.major, p.minor};
}

uint64_t device_count_calls() { return g_count_calls.load(std::memory_order_relaxed); }

}  // namespace hearth::cuda
