// The error side of HEARTH_CUDA_CHECK / HEARTH_CUBLAS_CHECK (cuda_check.h): turns a failed status into
// a hearth::Error a user can act on ("cudaMalloc(...) failed at file:line: out of memory").
#include "backend/cuda/cuda_check.h"

#include <string>

#include "core/error.h"

namespace hearth::cuda {

void check(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return;
    const ErrorKind kind = status == cudaErrorMemoryAllocation ? ErrorKind::OutOfMemory : ErrorKind::Internal;
    throw Error(kind, std::string("CUDA call ") + call + " failed at " + file + ":" + std::to_string(line) + ": " +
                          cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    const ErrorKind kind = status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorKind::OutOfMemory : ErrorKind::Internal;
    throw Error(kind, std::string("cuBLAS call ") + call + " failed at " + file + ":" + std::to_string(line) +
                          ": status " + std::to_string(int(status)));
}

}  // namespace hearth::cuda
