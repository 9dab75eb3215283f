// The device registry (see devices.h). The CUDA queries live in backend/cuda/cuda_device.h and are
// only compiled with HEARTH_CUDA; this file is the one place that chooses between the two builds.
#include "backend/placement/devices.h"

#include "backend/cpu/cpu_backend.h"
#include "core/error.h"

#ifdef HEARTH_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_device.h"
#endif

namespace hearth::placement {

bool cuda_built() {
#ifdef HEARTH_CUDA
    return true;
#else
    return false;
#endif
}

std::vector<DeviceInfo> list_accelerators() {
    std::vector<DeviceInfo> out;
#ifdef HEARTH_CUDA
    const int n = cuda::device_count();
    for (int i = 0; i < n; ++i) {
        const cuda::DeviceProps props = cuda::device_props(i);
        out.push_back(DeviceInfo{DeviceId{DeviceId::Kind::Cuda, i}, props.name, props.total_bytes, props.free_bytes});
    }
#endif
    return out;
}

std::optional<DeviceInfo> resolve_accelerator(const std::vector<DeviceId>& devices) {
    std::optional<DeviceId> wanted;
    for (const DeviceId& d : devices) {
        if (d.kind != DeviceId::Kind::Cuda) continue;
        if (wanted)
            throw Error(ErrorKind::Unsupported, "only one accelerator per run is supported (got " + wanted->name() +
                                                    " and " + d.name() + ")");
        wanted = d;
    }
    if (!wanted) return std::nullopt;  // CPU only: the CUDA runtime stays untouched
    if (!cuda_built())
        throw Error(ErrorKind::Unsupported, "--device " + wanted->name() +
                                                ": hearth was built without CUDA (rebuild with -DHEARTH_CUDA=ON)");
    const std::vector<DeviceInfo> all = list_accelerators();
    for (const DeviceInfo& d : all)
        if (d.id == *wanted) return d;
    throw Error(ErrorKind::InvalidArgument, "--device " + wanted->name() + ": no such CUDA device (found " +
                                                std::to_string(all.size()) + ")");
}

std::unique_ptr<Backend> create_backend(const DeviceId& device, int n_threads) {
    if (device.kind == DeviceId::Kind::Cpu) return std::make_unique<cpu::CpuBackend>(n_threads);
    resolve_accelerator({device});  // the uniform errors: built without CUDA, no such device
#ifdef HEARTH_CUDA
    return std::make_unique<cuda::CudaBackend>(device.index);
#else
    throw Error(ErrorKind::Internal, "unreachable: resolve_accelerator accepted a CUDA device without CUDA");
#endif
}

}  // namespace hearth::placement
