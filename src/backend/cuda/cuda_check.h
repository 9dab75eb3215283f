// Checked CUDA and cuBLAS calls: every runtime call of the CUDA backend goes through
// HEARTH_CUDA_CHECK / HEARTH_CUBLAS_CHECK, which throw hearth::Error naming the call, file and line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace hearth::cuda {

// Throws Error(OutOfMemory) for cudaErrorMemoryAllocation, else Error(Internal), with the failing
// call's text, file:line and the runtime's error name and message.
void check(cudaError_t status, const char* call, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace hearth::cuda

#define HEARTH_CUDA_CHECK(call) ::hearth::cuda::check((call), #call, __FILE__, __LINE__)
#define HEARTH_CUBLAS_CHECK(call) ::hearth::cuda::check_cublas((call), #call, __FILE__, __LINE__)
