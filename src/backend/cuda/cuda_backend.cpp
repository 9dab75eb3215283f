// CudaBackend (see cuda_backend.h): buffers, copies, op support and the per-node dispatch to the
// kernel launchers of this folder; prompt-sized matrix products go through F16 + cuBLAS.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cstring>

#include "backend/cuda/copy.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.h"
#include "backend/cuda/cuda_tensor.h"
#include "backend/cuda/elementwise.cuh"
#include "backend/cuda/flash_attn.cuh"
#include "backend/cuda/mul_mat.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/rope.cuh"
#include "backend/cuda/softmax.cuh"
#include "core/error.h"

namespace hearth::cuda {
namespace {

class CudaBuffer final : public BackendBuffer {
public:
    CudaBuffer(CudaBackend& owner, size_t bytes) : owner_(owner), size_(bytes) {
        HEARTH_CUDA_CHECK(cudaSetDevice(owner.device()));
        if (bytes > 0) HEARTH_CUDA_CHECK(cudaMalloc(&base_, bytes));
    }
    ~CudaBuffer() override {
        if (base_) (void)cudaFree(base_);  // never throw from a destructor
    }
    void* base() override { return base_; }
    size_t size() const override { return size_; }
    Backend& backend() override { return owner_; }

private:
    CudaBackend& owner_;
    void* base_ = nullptr;
    size_t size_;
};

bool is_weight_type(DType t) {
    switch (t) {
        case DType::F32: case DType::F16: case DType::BF16: case DType::Q4_0: case DType::Q5_0:
        case DType::Q8_0: case DType::Q4_K: case DType::Q6_K: return true;
        default: return false;
    }
}
bool f32(const Tensor* t) { return t && t->type == DType::F32; }
bool packed_rows(const Tensor* t) { return t->nb[0] == size_t(dtype_traits(t->type).block_bytes); }

constexpr size_t kStagingChunk = 64ull << 20;  // pinned staging grows to at most this

}  // namespace

CudaBackend::CudaBackend(int device) : device_(device), name_("CUDA" + std::to_string(device)) {
    const int n = device_count();
    if (device < 0 || device >= n)
        throw Error(ErrorKind::InvalidArgument,
                    "no CUDA device " + std::to_string(device) + " (found " + std::to_string(n) + ")");
    HEARTH_CUDA_CHECK(cudaSetDevice(device_));
    HEARTH_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    HEARTH_CUBLAS_CHECK(cublasCreate(&cublas_));
    HEARTH_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    HEARTH_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&bad_id_), sizeof(int)));
}

CudaBackend::~CudaBackend() {
    (void)cudaSetDevice(device_);
    if (stream_) (void)cudaStreamSynchronize(stream_);
    if (cublas_) (void)cublasDestroy(cublas_);
    if (scratch_) (void)cudaFree(scratch_);
    if (bad_id_) (void)cudaFree(bad_id_);
    if (staging_) (void)cudaFreeHost(staging_);
    if (stream_) (void)cudaStreamDestroy(stream_);
}

std::unique_ptr<BackendBuffer> CudaBackend::alloc_buffer(size_t bytes) {
    return std::make_unique<CudaBuffer>(*this, bytes);
}

void* CudaBackend::scratch(size_t bytes) {
    if (bytes > scratch_bytes_) {
        HEARTH_CUDA_CHECK(cudaStreamSynchronize(stream_));
        if (scratch_) HEARTH_CUDA_CHECK(cudaFree(scratch_));
        scratch_ = nullptr;
        scratch_bytes_ = 0;
        HEARTH_CUDA_CHECK(cudaMalloc(&scratch_, bytes));
        scratch_bytes_ = bytes;
    }
    return scratch_;
}

void* CudaBackend::staging(size_t bytes) {
    if (bytes > staging_bytes_) {
        if (staging_) HEARTH_CUDA_CHECK(cudaFreeHost(staging_));
        staging_ = nullptr;
        staging_bytes_ = 0;
        HEARTH_CUDA_CHECK(cudaMallocHost(&staging_, bytes));
        staging_bytes_ = bytes;
    }
    return staging_;
}

void CudaBackend::set_tensor(Tensor& t, const void* src, size_t offset, size_t bytes) {
    HEARTH_ASSERT(offset + bytes <= t.nbytes());
    HEARTH_CUDA_CHECK(cudaSetDevice(device_));
    char* dst = static_cast<char*>(t.data) + offset;
    const char* in = static_cast<const char*>(src);
    for (size_t done = 0; done < bytes;) {
        const size_t n = std::min(bytes - done, kStagingChunk);
        char* stage = static_cast<char*>(staging(std::min(bytes, kStagingChunk)));
        std::memcpy(stage, in + done, n);
        HEARTH_CUDA_CHECK(cudaMemcpyAsync(dst + done, stage, n, cudaMemcpyHostToDevice, stream_));
        HEARTH_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the staging buffer is reused next chunk
        done += n;
    }
}

void CudaBackend::get_tensor(const Tensor& t, void* dst, size_t offset, size_t bytes) {
    HEARTH_ASSERT(offset + bytes <= t.nbytes());
    HEARTH_CUDA_CHECK(cudaSetDevice(device_));
    const char* src = static_cast<const char*>(t.data) + offset;
    char* out = static_cast<char*>(dst);
    for (size_t done = 0; done < bytes;) {
        const size_t n = std::min(bytes - done, kStagingChunk);
        char* stage = static_cast<char*>(staging(std::min(bytes, kStagingChunk)));
        HEARTH_CUDA_CHECK(cudaMemcpyAsync(stage, src + done, n, cudaMemcpyDeviceToHost, stream_));
        HEARTH_CUDA_CHECK(cudaStreamSynchronize(stream_));
        std::memcpy(out + done, stage, n);
        done += n;
    }
}

bool CudaBackend::supports_op(const Tensor& n) const {
    if (n.op == OpKind::None || n.op == OpKind::View) return true;  // nothing to compute
    const Tensor* a = n.src[0];
    const Tensor* b = n.src[1];
    // The scheduler copies only computed activations between backends, not leaves: a leaf source that
    // already has memory (a weight, a caller-filled input) must be in this backend's memory. Leaves
    // without memory are planned into this backend's arena.
    for (const Tensor* s : n.src) {
        if (!s) continue;
        const Tensor* root = s->view_src ? s->view_src : s;
        if (root->op == OpKind::None && root->data && (!root->buffer || &root->buffer->backend() != this)) return false;
    }
    switch (n.op) {
        case OpKind::GetRows: return is_weight_type(a->type) && b->type == DType::I32;
        case OpKind::MulMat: return is_weight_type(a->type) && packed_rows(a) && f32(b) && b->nb[0] == sizeof(float);
        case OpKind::Add: case OpKind::Mul: case OpKind::Div: return f32(a) && f32(b);
        case OpKind::Scale: case OpKind::Softcap: case OpKind::Silu: case OpKind::Gelu: case OpKind::GeluErf:
        case OpKind::Tanh: return f32(a);
        case OpKind::Swiglu: case OpKind::Geglu: return f32(a) && f32(b);
        case OpKind::RmsNorm: case OpKind::LayerNorm: return f32(a) && a->nb[0] == sizeof(float);
        case OpKind::Rope:
            return f32(a) && a->nb[0] == sizeof(float) && (n.param_i(1) == 0 || n.param_i(1) == 2) &&
                   n.param_f(5) == 0.0f && a->ne[3] == 1;
        case OpKind::SoftMax: return f32(a) && a->nb[0] == sizeof(float) && (!b || f32(b));
        case OpKind::FlashAttn: {
            const Tensor* v = n.src[2];
            const Tensor* mask = n.src[3];
            auto kv_ok = [](const Tensor* t) { return t->type == DType::F16 || t->type == DType::F32; };
            return f32(a) && a->nb[0] == sizeof(float) && kv_ok(b) && kv_ok(v) && a->ne[0] <= kFlashMaxHeadDim &&
                   v->ne[0] <= kFlashMaxHeadDim && (!mask || f32(mask));
        }
        case OpKind::Cpy: return f32(a);
        case OpKind::Cont: {
            const size_t bytes = dtype_traits(a->type).block_bytes;
            return dtype_traits(a->type).block_elems == 1 && (bytes == 2 || bytes == 4);
        }
        default: return false;  // Concat, Argmax: the scheduler keeps them on the CPU
    }
}

void CudaBackend::mul_mat(Tensor& node) {
    const Tensor& w = *node.src[0];
    const Tensor& x = *node.src[1];
    const bool plain_2d = w.ne[2] == 1 && w.ne[3] == 1 && x.ne[2] == 1 && x.ne[3] == 1;
    if (!plain_2d || x.ne[1] < kCublasMinColumns) {
        launch_mul_mat_vec(arg_of(w), arg_of(x), arg_of(node), stream_);
        return;
    }
    // Prompt: W and X to packed F16 in scratch, then out[M, N] = W^T X in column-major terms:
    // W16 is K x M (ld K), X16 is K x N (ld K), out is M x N (ld M), F32 accumulation.
    const int64_t K = w.ne[0], M = w.ne[1], N = x.ne[1];
    __half* w16 = static_cast<__half*>(scratch(size_t(K) * size_t(M + N) * sizeof(__half)));
    __half* x16 = w16 + K * M;
    launch_to_f16(arg_of(w), w16, stream_);
    launch_to_f16(arg_of(x), x16, stream_);
    const float alpha = 1.0f, beta = 0.0f;
    HEARTH_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, int(M), int(N), int(K), &alpha, w16, CUDA_R_16F,
                                     int(K), x16, CUDA_R_16F, int(K), &beta, node.data, CUDA_R_32F, int(M),
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::compute_node(Tensor& n) {
    const TensorArg dst = arg_of(n);
    const TensorArg none{};
    auto src = [&](int i) { return n.src[i] ? arg_of(*n.src[i]) : none; };
    switch (n.op) {
        case OpKind::None: case OpKind::View: return;
        case OpKind::GetRows: launch_get_rows(src(0), src(1), dst, bad_id_, stream_); return;
        case OpKind::MulMat: mul_mat(n); return;
        case OpKind::Add: launch_binary(BinaryOp::Add, src(0), src(1), dst, stream_); return;
        case OpKind::Mul: launch_binary(BinaryOp::Mul, src(0), src(1), dst, stream_); return;
        case OpKind::Div: launch_binary(BinaryOp::Div, src(0), src(1), dst, stream_); return;
        case OpKind::Scale: launch_unary(UnaryOp::Scale, src(0), dst, n.param_f(0), stream_); return;
        case OpKind::Softcap: launch_unary(UnaryOp::Softcap, src(0), dst, n.param_f(0), stream_); return;
        case OpKind::Silu: launch_unary(UnaryOp::Silu, src(0), dst, 0.0f, stream_); return;
        case OpKind::Gelu: launch_unary(UnaryOp::Gelu, src(0), dst, 0.0f, stream_); return;
        case OpKind::GeluErf: launch_unary(UnaryOp::GeluErf, src(0), dst, 0.0f, stream_); return;
        case OpKind::Tanh: launch_unary(UnaryOp::Tanh, src(0), dst, 0.0f, stream_); return;
        case OpKind::Swiglu: launch_gated(GatedOp::Swiglu, src(0), src(1), dst, stream_); return;
        case OpKind::Geglu: launch_gated(GatedOp::Geglu, src(0), src(1), dst, stream_); return;
        case OpKind::RmsNorm: launch_rms_norm(src(0), dst, n.param_f(0), stream_); return;
        case OpKind::LayerNorm: launch_layer_norm(src(0), dst, n.param_f(0), stream_); return;
        case OpKind::Rope: {
            RopeArgs r;
            r.n_dims = n.param_i(0);
            r.neox = n.param_i(1) == 2;
            r.freq_base = n.param_f(3);
            r.freq_scale = n.param_f(4);
            r.attn_factor = n.param_f(6);
            launch_rope(src(0), src(1), dst, r, stream_);
            return;
        }
        case OpKind::SoftMax: launch_softmax(src(0), src(1), dst, n.param_f(0), stream_); return;
        case OpKind::FlashAttn:
            launch_flash_attn(src(0), src(1), src(2), src(3), dst, n.param_f(0), n.param_f(1), stream_);
            return;
        case OpKind::Cpy: launch_cpy(src(0), dst, stream_); return;
        case OpKind::Cont:
            launch_cont(src(0), dst, int(dtype_traits(n.type).block_bytes), stream_);
            return;
        default:
            throw Error(ErrorKind::Unsupported, std::string("CUDA backend: op ") + op_name(n.op) + " is not supported");
    }
}

void CudaBackend::compute(std::span<Tensor* const> nodes) {
    HEARTH_CUDA_CHECK(cudaSetDevice(device_));
    HEARTH_CUDA_CHECK(cudaMemsetAsync(bad_id_, 0, sizeof(int), stream_));
    for (Tensor* n : nodes) compute_node(*n);
    int bad = 0;
    HEARTH_CUDA_CHECK(cudaMemcpyAsync(&bad, bad_id_, sizeof(int), cudaMemcpyDeviceToHost, stream_));
    HEARTH_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (bad) throw Error(ErrorKind::InvalidArgument, "get_rows: a row id is outside the table (CUDA backend)");
}

}  // namespace hearth::cuda
