// get_rows / cpy / cont kernels (see copy.cuh).
#include "backend/cuda/copy.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_common.cuh"

namespace hearth::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void get_rows_kernel(TensorArg table, TensorArg ids, TensorArg dst, int* bad_id) {
    const int64_t j = blockIdx.x, k = blockIdx.y;  // ids[j, k]
    const int32_t id = *reinterpret_cast<const int32_t*>(elem_ptr(ids, j, k, 0, 0));
    float* out = reinterpret_cast<float*>(dst.data) + (k * ids.ne[0] + j) * table.ne[0];
    if (id < 0 || id >= table.ne[1]) {
        if (threadIdx.x == 0) *bad_id = 1;
        for (int64_t i = threadIdx.x; i < table.ne[0]; i += blockDim.x) out[i] = 0.0f;
        return;
    }
    const char* row = row_ptr(table, id, 0, 0);
    for (int64_t i = threadIdx.x; i < table.ne[0]; i += blockDim.x) out[i] = load_elem(table.type, row, i);
}

__global__ void cpy_kernel(TensorArg src, TensorArg dst, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t s0, s1, s2, s3, d0, d1, d2, d3;
    unravel(i, src, s0, s1, s2, s3);
    unravel(i, dst, d0, d1, d2, d3);
    const float v = *reinterpret_cast<const float*>(elem_ptr(src, s0, s1, s2, s3));
    char* p = elem_ptr(dst, d0, d1, d2, d3);
    if (dst.type == kF16) *reinterpret_cast<__half*>(p) = __float2half(v);
    else if (dst.type == kBF16) *reinterpret_cast<__nv_bfloat16*>(p) = __float2bfloat16(v);
    else *reinterpret_cast<float*>(p) = v;
}

__global__ void cont_kernel(TensorArg src, TensorArg dst, int elem_bytes, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t s0, s1, s2, s3;
    unravel(i, src, s0, s1, s2, s3);
    const char* p = elem_ptr(src, s0, s1, s2, s3);
    if (elem_bytes == 4) reinterpret_cast<uint32_t*>(dst.data)[i] = *reinterpret_cast<const uint32_t*>(p);
    else reinterpret_cast<uint16_t*>(dst.data)[i] = *reinterpret_cast<const uint16_t*>(p);
}


}  // namespace

void launch_get_rows(const TensorArg& table, const TensorArg& ids, const TensorArg& dst, int* bad_id, cudaStream_t s) {
    if (ids.ne[0] == 0 || ids.ne[1] == 0) return;
    get_rows_kernel<<<dim3(unsigned(ids.ne[0]), unsigned(ids.ne[1])), kThreads, 0, s>>>(table, ids, dst, bad_id);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

void launch_cpy(const TensorArg& src, const TensorArg& dst, cudaStream_t s) {
    const int64_t n = n_of(src);
    if (n == 0) return;
    cpy_kernel<<<unsigned((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(src, dst, n);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

void launch_cont(const TensorArg& src, const TensorArg& dst, int elem_bytes, cudaStream_t s) {
    const int64_t n = n_of(src);
    if (n == 0) return;
    cont_kernel<<<unsigned((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(src, dst, elem_bytes, n);
    HEARTH_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hearth::cuda
