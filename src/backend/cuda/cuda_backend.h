// The CUDA backend: device memory buffers, a stream, a cuBLAS handle and the kernels of this folder
// behind the Backend interface (backend/backend.h). Tensor::data of tensors in its buffers is a
// device pointer (is_host() is false); the scheduler copies inputs in and results out.
#pragma once

#include <cuda_fp16.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <span>
#include <string>

#include "backend/backend.h"

namespace hearth::cuda {

class CudaBackend final : public Backend {
public:
    // Opens CUDA device `device` (Error(InvalidArgument) when there is no such device).
    explicit CudaBackend(int device = 0);
    ~CudaBackend() override;
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    const char* name() const override { return name_.c_str(); }
    bool is_host() const override { return false; }
    std::unique_ptr<BackendBuffer> alloc_buffer(size_t bytes) override;
    size_t alignment() const override { return 256; }
    bool supports_op(const Tensor& node) const override;
    void compute(std::span<Tensor* const> nodes) override;
    // Host <-> device through a pinned staging buffer with async copies on the backend's stream.
    void set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) override;
    void get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) override;

    int device() const { return device_; }
    // Activation columns from which mul_mat goes through F16 + cuBLAS instead of the direct kernel.
    static constexpr int64_t kCublasMinColumns = 8;

private:
    void compute_node(Tensor& node);
    void mul_mat(Tensor& node);
    void* scratch(size_t bytes);          // device scratch, grown on demand, reused between nodes
    void* staging(size_t bytes);          // pinned host staging buffer

    int device_ = 0;
    std::string name_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    void* scratch_ = nullptr;
    size_t scratch_bytes_ = 0;
    void* staging_ = nullptr;
    size_t staging_bytes_ = 0;
    int* bad_id_ = nullptr;  // device flag set by get_rows for an out-of-range id
};

}  // namespace hearth::cuda
