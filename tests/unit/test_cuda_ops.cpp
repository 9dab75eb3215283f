// CUDA backend tests (compiled only with -DHEARTH_CUDA=ON): each op computed by CudaBackend and by
// the scalar reference (cpu::compute_reference), compared by NMSE with the CPU suite's thresholds;
// and the proof that a CPU-only selection (--device none, -ngl 0) never initialises CUDA.
// Without a CUDA device every op test skips (GTEST_SKIP), it does not fail.
#ifdef HEARTH_CUDA

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_device.h"
#include "backend/placement/devices.h"
#include "backend/placement/placement.h"
#include "core/error.h"
#include "core/ops.h"
#include "test_core_util.h"

namespace hearth {
namespace {

using testutil::int_leaf;
using testutil::random_leaf;

constexpr double kF32 = 1e-10;   // float vs double arithmetic (CPU suite threshold)
constexpr double kF16 = 1e-5;    // F16 operands / cuBLAS F16 path
constexpr double kQuant = 5e-4;  // quantized weights (CPU suite threshold)

// Runs the single op `out` (its sources are host leaves or views of them) on the CUDA backend:
// copies every source root to device memory (its buffer set, so supports_op sees device-resident
// leaves), computes, copies the result back. Restores data and buffer pointers. Fails the test when
// the backend declines the op.
std::vector<double> run_on_cuda(cuda::CudaBackend& be, Tensor* out) {
    struct Saved {
        Tensor* t;
        void* data;
        BackendBuffer* buffer;
    };
    std::map<Tensor*, std::unique_ptr<BackendBuffer>> device;  // host root -> device copy
    std::vector<Saved> saved;
    auto relocate = [&](Tensor* t, void* data, BackendBuffer* buf) {
        saved.push_back({t, t->data, t->buffer});
        t->data = data;
        t->buffer = buf;
    };
    auto to_device = [&](Tensor* t) {
        Tensor* root = t->view_src ? t->view_src : t;
        if (!device.count(root)) {
            auto buf = be.alloc_buffer(root->nbytes());
            Tensor tmp = *root;
            tmp.data = buf->base();
            be.set_tensor(tmp, root->data, 0, root->nbytes());
            relocate(root, buf->base(), buf.get());
            device[root] = std::move(buf);
        }
        if (t != root) relocate(t, static_cast<char*>(root->data) + t->view_offset, root->buffer);
    };
    for (Tensor* s : out->src)
        if (s) to_device(s);
    // The result: a fresh device buffer (a Cpy node aliases its destination, already on the device).
    std::unique_ptr<BackendBuffer> out_buf;
    if (out->op == OpKind::Cpy) {
        relocate(out, out->src[1]->data, out->src[1]->buffer);
    } else {
        out_buf = be.alloc_buffer(out->nbytes());
        relocate(out, out_buf->base(), out_buf.get());
    }
    const bool supported = be.supports_op(*out);
    EXPECT_TRUE(supported) << "CUDA backend declines " << op_name(out->op);
    std::vector<char> host(out->nbytes());
    if (supported) {
        Tensor* nodes[] = {out};
        be.compute(nodes);
        be.get_tensor(*out, host.data(), 0, host.size());
    }
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) it->t->data = it->data, it->t->buffer = it->buffer;
    Tensor view = *out;
    view.data = host.data();
    return testutil::values(view);
}

struct Case {
    std::string name;
    std::function<Tensor*(Context&, std::mt19937&)> build;
    double max_nmse;
};

std::vector<Case> cases() {
    std::vector<Case> c;
    using B = std::function<Tensor*(Context&, std::mt19937&)>;
    auto add = [&](std::string n, B b, double tol) { c.push_back({std::move(n), std::move(b), tol}); };
    add("silu", [](Context& x, std::mt19937& r) { return ops::silu(x, random_leaf(x, r, DType::F32, {33, 5, 3}, "a", -4, 4)); }, kF32);
    add("gelu", [](Context& x, std::mt19937& r) { return ops::gelu(x, random_leaf(x, r, DType::F32, {4096, 2}, "a", -4, 4)); }, kF32);
    add("scale", [](Context& x, std::mt19937& r) { return ops::scale(x, random_leaf(x, r, DType::F32, {17, 4}, "a"), 0.37f); }, kF32);
    add("add_bcast", [](Context& x, std::mt19937& r) {
        return ops::add(x, random_leaf(x, r, DType::F32, {8, 6, 4, 2}, "a"), random_leaf(x, r, DType::F32, {4, 1, 4, 1}, "b"));
    }, kF32);
    add("mul_row", [](Context& x, std::mt19937& r) {
        return ops::mul(x, random_leaf(x, r, DType::F32, {256, 5, 2}, "a"), random_leaf(x, r, DType::F32, {256}, "b"));
    }, kF32);
    add("mul_strided", [](Context& x, std::mt19937& r) {
        return ops::mul(x, ops::transpose(x, random_leaf(x, r, DType::F32, {6, 11}, "a")), random_leaf(x, r, DType::F32, {11}, "b"));
    }, kF32);
    add("swiglu", [](Context& x, std::mt19937& r) {
        return ops::swiglu(x, random_leaf(x, r, DType::F32, {768, 3}, "a", -4, 4), random_leaf(x, r, DType::F32, {768, 3}, "b"));
    }, kF32);
    add("geglu", [](Context& x, std::mt19937& r) {
        return ops::geglu(x, random_leaf(x, r, DType::F32, {33, 1}, "a", -4, 4), random_leaf(x, r, DType::F32, {33, 1}, "b"));
    }, kF32);
    add("rms_norm", [](Context& x, std::mt19937& r) { return ops::rms_norm(x, random_leaf(x, r, DType::F32, {255, 7}, "a"), 1e-6f); }, kF32);
    for (ops::RopeMode mode : {ops::RopeMode::Normal, ops::RopeMode::NeoX}) {
        add(std::string("rope_") + (mode == ops::RopeMode::NeoX ? "neox" : "normal"), [mode](Context& x, std::mt19937& r) {
            ops::RopeParams p;
            p.n_dims = 64;
            p.mode = mode;
            p.freq_base = 1e6f;
            return ops::rope(x, random_leaf(x, r, DType::F32, {64, 4, 5}, "x"), int_leaf(x, {0, 1, 7, 300, 4095}, "pos"), p);
        }, 1e-8);  // float angles at positions up to 4095 (the CPU suite's threshold)
    }
    add("soft_max_mask", [](Context& x, std::mt19937& r) {
        Tensor* mask = random_leaf(x, r, DType::F32, {37, 3}, "mask");
        static_cast<float*>(mask->data)[5] = -INFINITY;
        return ops::soft_max(x, random_leaf(x, r, DType::F32, {37, 3, 4}, "a", -5, 5), mask, 0.125f);
    }, kF32);
    add("get_rows_q8_0", [](Context& x, std::mt19937& r) {
        return ops::get_rows(x, random_leaf(x, r, DType::Q8_0, {64, 10}, "t"), int_leaf(x, {3, 0, 9, 3}, "ids"));
    }, kF32);
    add("get_rows_f16", [](Context& x, std::mt19937& r) {
        return ops::get_rows(x, random_leaf(x, r, DType::F16, {40, 10}, "t"), int_leaf(x, {1, 2}, "ids"));
    }, kF32);
    add("cpy_f32_f16", [](Context& x, std::mt19937& r) {
        return ops::cpy(x, random_leaf(x, r, DType::F32, {64, 3}, "src"), random_leaf(x, r, DType::F16, {64, 3}, "dst"));
    }, kF16);
    for (DType t : {DType::F32, DType::F16, DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
        for (int64_t n : {1, 3, 16}) {  // 16 columns: the F16 + cuBLAS prompt path
            const double tol = t == DType::F32 ? (n >= 8 ? kF16 : kF32) : (t == DType::F16 ? kF16 : kQuant);
            add(std::string("mul_mat_") + dtype_name(t) + "_n" + std::to_string(n), [t, n](Context& x, std::mt19937& r) {
                return ops::mul_mat(x, random_leaf(x, r, t, {512, 37}, "w"), random_leaf(x, r, DType::F32, {512, n}, "x"));
            }, tol);
        }
    }
    add("mul_mat_gqa", [](Context& x, std::mt19937& r) {
        return ops::mul_mat(x, random_leaf(x, r, DType::F16, {64, 20, 2}, "k"), random_leaf(x, r, DType::F32, {64, 3, 8}, "q"));
    }, kF16);
    for (float softcap : {0.0f, 30.0f}) {
        add("flash_attn_f16_softcap" + std::to_string(int(softcap)), [softcap](Context& x, std::mt19937& r) {
            Tensor* mask = random_leaf(x, r, DType::F32, {50, 3}, "mask", 0, 0);
            for (int i = 40; i < 50; ++i) static_cast<float*>(mask->data)[i] = -INFINITY;  // row 0 sees 40 keys
            Tensor* q = random_leaf(x, r, DType::F32, {128, 3, 8}, "q");
            Tensor* k = random_leaf(x, r, DType::F16, {128, 50, 2}, "k");
            Tensor* v = random_leaf(x, r, DType::F16, {128, 50, 2}, "v");
            return ops::flash_attn(x, q, k, v, mask, 0.088f, softcap);
        }, kF16);
    }
    return c;
}

bool have_device() { return cuda::device_count() > 0; }

class CudaOps : public ::testing::TestWithParam<int> {};

TEST_P(CudaOps, MatchesReference) {
    if (!have_device()) GTEST_SKIP() << "no CUDA device on this machine";
    static const std::vector<Case> all = cases();
    const Case& c = all[size_t(GetParam())];
    cuda::CudaBackend be(0);
    Context ctx;
    std::mt19937 rng(4321 + GetParam());
    Tensor* out = c.build(ctx, rng);
    if (out->op != OpKind::Cpy) ctx.alloc_data(out);
    const std::vector<double> got = run_on_cuda(be, out);
    cpu::compute_reference(*out);
    const std::vector<double> want = testutil::values(*out);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LE(testutil::nmse(got, want), c.max_nmse) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaOps, ::testing::Range(0, int(cases().size())),
                         [](const ::testing::TestParamInfo<int>& info) { return cases()[size_t(info.param)].name; });

TEST(CudaBackendTest, BadRowIdThrows) {
    if (!have_device()) GTEST_SKIP() << "no CUDA device on this machine";
    cuda::CudaBackend be(0);
    Context ctx;
    std::mt19937 rng(7);
    Tensor* out = ops::get_rows(ctx, random_leaf(ctx, rng, DType::F32, {8, 4}, "t"), int_leaf(ctx, {1, 4}, "ids"));
    ctx.alloc_data(out);
    EXPECT_THROW(run_on_cuda(be, out), Error);
}

TEST(CudaBackendTest, DeclinesOpsOnHostResidentLeaves) {
    if (!have_device()) GTEST_SKIP() << "no CUDA device on this machine";
    cuda::CudaBackend be(0);
    Context ctx;
    std::mt19937 rng(8);
    Tensor* w = random_leaf(ctx, rng, DType::Q8_0, {64, 4}, "w");  // host memory, no buffer
    Tensor* x = ctx.new_tensor(DType::F32, {64, 1}, "x");           // no memory yet: planned on the device
    EXPECT_FALSE(be.supports_op(*ops::mul_mat(ctx, w, x)));
    auto buf = be.alloc_buffer(w->nbytes());
    void* host = w->data;
    w->data = buf->base();
    w->buffer = buf.get();
    EXPECT_TRUE(be.supports_op(*ops::mul_mat(ctx, w, x)));
    w->data = host;  // back to the context's memory before it is released
    w->buffer = nullptr;
}

TEST(CudaBackendTest, MissingDeviceIsAClearError) {
    const int n = cuda::device_count();
    try {
        cuda::CudaBackend be(n);  // one past the last device
        FAIL() << "opened a device that does not exist";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
    }
}

TEST(CudaInit, CpuOnlySelectionNeverInitialisesCuda) {
    const uint64_t before = cuda::device_count_calls();
    // --device none and --device cpu, -ngl 0: resolution, planning and the CPU backend.
    EXPECT_FALSE(placement::resolve_accelerator(placement::parse_device_list("none")).has_value());
    EXPECT_FALSE(placement::resolve_accelerator(placement::parse_device_list("cpu")).has_value());
    placement::ModelSummary m;
    m.n_layer = 2;
    m.n_embd = m.n_ff = m.n_head = m.n_embd_q = m.head_dim_v = 64;
    m.n_vocab = 100;
    m.n_embd_k_gqa = m.n_embd_v_gqa = {64, 64};
    placement::FitParams p;
    p.n_gpu_layers = 0;
    placement::plan_placement(m, p, nullptr);
    auto cpu = placement::create_backend(placement::parse_device("cpu"), 1);
    EXPECT_STREQ(cpu->name(), "CPU");
    EXPECT_EQ(cuda::device_count_calls(), before);
    // Naming a CUDA device does query the runtime.
    try {
        placement::resolve_accelerator(placement::parse_device_list("cuda0"));
    } catch (const Error&) {
    }
    EXPECT_GT(cuda::device_count_calls(), before);
}

TEST(CudaInit, CheckNamesTheCall) {
    try {
        HEARTH_CUDA_CHECK(cudaErrorInvalidValue);
        FAIL() << "no throw";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("cudaErrorInvalidValue"), std::string::npos) << msg;
        EXPECT_NE(msg.find("test_cuda_ops.cpp"), std::string::npos) << msg;
    }
}

}  // namespace
}  // namespace hearth

#endif  // HEARTH_CUDA
