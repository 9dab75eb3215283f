// Op test suite: every op x relevant types x awkward shapes, computed by a backend through the
// scheduler and compared with the scalar reference (cpu::compute_reference) by NMSE per case.
// Parameterized over backend configurations (CPU at each ISA level this machine has, 1 and 3
// threads) so another backend can be added to kBackends and reuse every case.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/scheduler.h"
#include "core/graph.h"
#include "core/mask.h"
#include "core/ops.h"
#include "test_core_util.h"

using namespace hearth;
using testutil::int_leaf;
using testutil::random_leaf;

namespace {

struct OpCase {
    std::string name;
    std::function<Tensor*(Context&, std::mt19937&)> build;
    double max_nmse;  // < 0: exact integer comparison
};

struct BackendSpec {
    std::string name;
    std::function<std::unique_ptr<Backend>()> make;
};

std::vector<BackendSpec> backend_specs() {
    std::vector<BackendSpec> v;
    const int best = static_cast<int>(cpu::best_isa());
    for (int i = 0; i <= best; ++i) {
        const cpu::Isa isa = static_cast<cpu::Isa>(i);
        for (int threads : {1, 3}) {
            v.push_back({std::string("cpu_") + cpu::isa_name(isa) + "_t" + std::to_string(threads),
                         [isa, threads] { return std::make_unique<cpu::CpuBackend>(threads, "CPU", isa); }});
        }
    }
    return v;
}

const std::vector<BackendSpec>& kBackends() {
    static const std::vector<BackendSpec> v = backend_specs();
    return v;
}

constexpr double kF32 = 1e-10;  // float vs double arithmetic
constexpr double kQuant = 5e-4;  // kernels quantize activations (Q8); measured <= 8e-5

// A random F32 tensor viewed transposed: exercises strided (non-contiguous) sources.
Tensor* transposed_input(Context& ctx, std::mt19937& rng, int64_t rows, int64_t cols) {
    Tensor* a = random_leaf(ctx, rng, DType::F32, {rows, cols}, "a_t");
    return ops::transpose(ctx, a);  // [cols, rows], nb[0] = row stride
}

std::vector<OpCase> make_cases() {
    std::vector<OpCase> c;
    using B = std::function<Tensor*(Context&, std::mt19937&)>;
    auto add = [&](std::string name, B b, double tol) { c.push_back({std::move(name), std::move(b), tol}); };

    // ---- unary ----
    struct U {
        const char* name;
        Tensor* (*fn)(Context&, Tensor*);
    };
    const U unaries[] = {{"silu", ops::silu}, {"gelu", ops::gelu}, {"gelu_erf", ops::gelu_erf}, {"tanh", ops::tanh}};
    const std::vector<std::vector<int64_t>> shapes = {{1, 1}, {7, 3}, {4096, 2}, {33, 5, 3, 2}};
    for (const U& u : unaries) {
        for (size_t s = 0; s < shapes.size(); ++s) {
            auto sh = shapes[s];
            add(std::string(u.name) + "_s" + std::to_string(s),
                [u, sh](Context& ctx, std::mt19937& rng) {
                    Tensor* a = ctx.new_tensor(DType::F32, static_cast<int>(sh.size()), sh.data(), "a");
                    ctx.alloc_data(a);
                    std::uniform_real_distribution<float> d(-4, 4);
                    for (int64_t i = 0; i < a->nelements(); ++i) static_cast<float*>(a->data)[i] = d(rng);
                    return u.fn(ctx, a);
                },
                kF32);
        }
        add(std::string(u.name) + "_strided", [u](Context& ctx, std::mt19937& rng) { return u.fn(ctx, transposed_input(ctx, rng, 9, 5)); }, kF32);
    }
    add("scale", [](Context& ctx, std::mt19937& rng) { return ops::scale(ctx, random_leaf(ctx, rng, DType::F32, {17, 4}, "a"), 0.37f); }, kF32);
    add("softcap", [](Context& ctx, std::mt19937& rng) { return ops::softcap(ctx, random_leaf(ctx, rng, DType::F32, {65, 3}, "a", -80, 80), 30.0f); }, kF32);

    // ---- binary with broadcasting ----
    struct Bin {
        const char* name;
        Tensor* (*fn)(Context&, Tensor*, Tensor*);
    };
    const Bin bins[] = {{"add", ops::add}, {"mul", ops::mul}, {"div", ops::div}};
    for (const Bin& b : bins) {
        add(std::string(b.name) + "_same", [b](Context& ctx, std::mt19937& rng) {
            return b.fn(ctx, random_leaf(ctx, rng, DType::F32, {31, 7}, "a"), random_leaf(ctx, rng, DType::F32, {31, 7}, "b", 0.5f, 2.0f));
        }, kF32);
        add(std::string(b.name) + "_row", [b](Context& ctx, std::mt19937& rng) {
            return b.fn(ctx, random_leaf(ctx, rng, DType::F32, {256, 5, 2}, "a"), random_leaf(ctx, rng, DType::F32, {256}, "b", 0.5f, 2.0f));
        }, kF32);
        add(std::string(b.name) + "_bcast_dims", [b](Context& ctx, std::mt19937& rng) {
            return b.fn(ctx, random_leaf(ctx, rng, DType::F32, {8, 6, 4, 2}, "a"), random_leaf(ctx, rng, DType::F32, {4, 1, 4, 1}, "b", 0.5f, 2.0f));
        }, kF32);
        add(std::string(b.name) + "_strided", [b](Context& ctx, std::mt19937& rng) {
            return b.fn(ctx, transposed_input(ctx, rng, 6, 11), random_leaf(ctx, rng, DType::F32, {11}, "b", 0.5f, 2.0f));
        }, kF32);
    }
    // ---- gated ----
    add("swiglu", [](Context& ctx, std::mt19937& rng) {
        return ops::swiglu(ctx, random_leaf(ctx, rng, DType::F32, {768, 3}, "a", -4, 4), random_leaf(ctx, rng, DType::F32, {768, 3}, "b"));
    }, kF32);
    add("geglu", [](Context& ctx, std::mt19937& rng) {
        return ops::geglu(ctx, random_leaf(ctx, rng, DType::F32, {33, 1}, "a", -4, 4), random_leaf(ctx, rng, DType::F32, {33, 1}, "b"));
    }, kF32);
    // ---- norms ----
    for (auto sh : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {255, 7}, {4096, 2}}) {
        const std::string s = std::to_string(sh.first) + "x" + std::to_string(sh.second);
        add("rms_norm_" + s, [sh](Context& ctx, std::mt19937& rng) {
            return ops::rms_norm(ctx, random_leaf(ctx, rng, DType::F32, {sh.first, sh.second}, "a"), 1e-6f);
        }, kF32);
        add("layer_norm_" + s, [sh](Context& ctx, std::mt19937& rng) {
            return ops::layer_norm(ctx, random_leaf(ctx, rng, DType::F32, {sh.first, sh.second}, "a", 1, 3), 1e-5f);
        }, sh.first == 1 ? 1.0 : kF32);  // one element: output 0, error relative to eps noise
    }
    add("rms_norm_strided", [](Context& ctx, std::mt19937& rng) { return ops::rms_norm(ctx, transposed_input(ctx, rng, 13, 4), 1e-6f); }, kF32);

    // ---- rope ----
    struct R {
        const char* name;
        int64_t hd, nh, nt;
        int n_dims;
        ops::RopeMode mode;
        float ext;
    };
    const R ropes[] = {{"rope_norm", 64, 4, 5, 64, ops::RopeMode::Normal, 0},
                       {"rope_neox", 128, 3, 7, 128, ops::RopeMode::NeoX, 0},
                       {"rope_partial_neox", 64, 2, 3, 32, ops::RopeMode::NeoX, 0},
                       {"rope_partial_norm", 32, 2, 1, 16, ops::RopeMode::Normal, 0},
                       {"rope_yarn_neox", 64, 4, 6, 64, ops::RopeMode::NeoX, 1.0f},
                       {"rope_yarn_norm", 64, 2, 3, 64, ops::RopeMode::Normal, 1.0f}};
    for (const R& r : ropes) {
        add(r.name, [r](Context& ctx, std::mt19937& rng) {
            Tensor* x = random_leaf(ctx, rng, DType::F32, {r.hd, r.nh, r.nt}, "x");
            std::vector<int32_t> pos;
            for (int64_t i = 0; i < r.nt; ++i) pos.push_back(static_cast<int32_t>(i * 397 % 5000));
            ops::RopeParams p;
            p.n_dims = r.n_dims;
            p.mode = r.mode;
            p.freq_base = 1e6f;
            if (r.ext != 0) {
                p.freq_base = 1e4f;
                p.ext_factor = r.ext;
                p.freq_scale = 0.25f;
                p.n_ctx_orig = 2048;
            }
            return ops::rope(ctx, x, int_leaf(ctx, pos, "pos"), p);
        }, 1e-8);  // float angle recurrence vs double pow() at positions up to 5000
    }

    // ---- softmax ----
    add("soft_max_plain", [](Context& ctx, std::mt19937& rng) {
        return ops::soft_max(ctx, random_leaf(ctx, rng, DType::F32, {37, 5, 3}, "kq", -5, 5), nullptr, 0.7f);
    }, kF32);
    add("soft_max_one", [](Context& ctx, std::mt19937& rng) {
        return ops::soft_max(ctx, random_leaf(ctx, rng, DType::F32, {1, 1}, "kq"), nullptr, 1.0f);
    }, kF32);
    add("soft_max_causal_mask", [](Context& ctx, std::mt19937& rng) {
        const int64_t n_kv = 19, n_q = 6;
        Tensor* mask = ctx.new_tensor(DType::F32, {n_kv, n_q + 2}, "mask");  // padded rows
        ctx.alloc_data(mask);
        std::vector<int32_t> qp, kp;
        for (int i = 0; i < n_q; ++i) qp.push_back(13 + i);
        for (int j = 0; j < n_kv; ++j) kp.push_back(j == 4 ? -1 : j);
        qp.push_back(0);  // padding rows: fully masked
        qp.push_back(0);
        MaskSpec ms;
        ms.n_kv = n_kv;
        ms.n_q = n_q;
        ms.q_pos = qp.data();
        ms.kv_pos = kp.data();
        ms.window = 8;
        fill_kq_mask(ms, static_cast<float*>(mask->data), n_kv);
        return ops::soft_max(ctx, random_leaf(ctx, rng, DType::F32, {n_kv, n_q, 4}, "kq", -3, 3), mask, 0.125f);
    }, kF32);

    // ---- flash attention ----
    struct FA {
        const char* name;
        int64_t D, n_q, n_kv, nh, nhkv;
        DType kv;
        bool mask;
        float softcap;
        bool cache_view;
    };
    const FA fas[] = {{"fa_f16_decode_gqa", 64, 1, 37, 8, 2, DType::F16, true, 0, true},
                      {"fa_f16_prefill", 64, 7, 7, 4, 4, DType::F16, true, 0, false},
                      {"fa_f32_nomask", 32, 5, 130, 2, 1, DType::F32, false, 0, false},
                      {"fa_f16_long_gqa", 128, 3, 200, 6, 2, DType::F16, true, 0, true},
                      {"fa_softcap", 64, 2, 65, 2, 2, DType::F32, true, 20.0f, false},
                      {"fa_one_key", 16, 1, 1, 1, 1, DType::F16, false, 0, false},
                      {"fa_head256", 256, 1, 70, 4, 1, DType::F16, true, 0, true}};
    for (const FA& f : fas) {
        add(f.name, [f](Context& ctx, std::mt19937& rng) {
            Tensor* q = random_leaf(ctx, rng, DType::F32, {f.D, f.nh, f.n_q}, "q");
            q = ops::permute(ctx, q, 0, 2, 1, 3);  // [D, n_q, nh]
            Tensor *k, *v;
            if (f.cache_view) {  // K/V as views of a bigger cache [D*nhkv, n_ctx]
                const int64_t n_ctx = f.n_kv + 9;
                Tensor* kc = random_leaf(ctx, rng, f.kv, {f.D * f.nhkv, n_ctx}, "k_cache");
                Tensor* vc = random_leaf(ctx, rng, f.kv, {f.D * f.nhkv, n_ctx}, "v_cache");
                const size_t es = dtype_traits(f.kv).block_bytes;
                k = ops::view_3d(ctx, kc, f.D, f.n_kv, f.nhkv, kc->nb[1], f.D * es, 0);
                v = ops::view_3d(ctx, vc, f.D, f.n_kv, f.nhkv, vc->nb[1], f.D * es, 0);
            } else {
                k = random_leaf(ctx, rng, f.kv, {f.D, f.n_kv, f.nhkv}, "k");
                v = random_leaf(ctx, rng, f.kv, {f.D, f.n_kv, f.nhkv}, "v");
            }
            Tensor* mask = nullptr;
            if (f.mask) {
                mask = ctx.new_tensor(DType::F32, {f.n_kv, f.n_q}, "mask");
                ctx.alloc_data(mask);
                std::vector<int32_t> qp, kp;
                for (int64_t i = 0; i < f.n_q; ++i) qp.push_back(static_cast<int32_t>(f.n_kv - f.n_q + i));
                for (int64_t j = 0; j < f.n_kv; ++j) kp.push_back(static_cast<int32_t>(j));
                MaskSpec ms;
                ms.n_kv = f.n_kv;
                ms.n_q = f.n_q;
                ms.q_pos = qp.data();
                ms.kv_pos = kp.data();
                fill_kq_mask(ms, static_cast<float*>(mask->data), f.n_kv);
            }
            return ops::flash_attn(ctx, q, k, v, mask, 1.0f / std::sqrt(static_cast<float>(f.D)), f.softcap);
        }, 1e-9);
    }

    // ---- mul_mat: every weight type, odd row counts, one and several activation rows ----
    struct MM {
        DType w;
        int64_t K, M, N;
    };
    const MM mms[] = {{DType::F32, 67, 9, 1},     {DType::F32, 256, 33, 5},  {DType::F16, 64, 7, 3},
                      {DType::F16, 1024, 67, 1},  {DType::BF16, 96, 5, 2},   {DType::Q4_0, 64, 7, 1},
                      {DType::Q4_0, 512, 33, 5},  {DType::Q4_1, 96, 9, 2},   {DType::Q5_0, 64, 11, 3},
                      {DType::Q5_1, 128, 5, 1},   {DType::Q8_0, 32, 1, 1},   {DType::Q8_0, 1024, 67, 4},
                      {DType::Q2_K, 256, 9, 2},   {DType::Q3_K, 512, 7, 1},  {DType::Q4_K, 256, 1, 1},
                      {DType::Q4_K, 1024, 35, 6}, {DType::Q5_K, 512, 17, 3}, {DType::Q6_K, 768, 13, 2},
                      {DType::IQ4_NL, 64, 9, 2}};
    for (const MM& m : mms) {
        const std::string n = std::string("mul_mat_") + dtype_name(m.w) + "_" + std::to_string(m.K) + "x" +
                              std::to_string(m.M) + "x" + std::to_string(m.N);
        const bool quant = dtype_traits(m.w).block_elems > 1;
        add(n, [m](Context& ctx, std::mt19937& rng) {
            return ops::mul_mat(ctx, random_leaf(ctx, rng, m.w, {m.K, m.M}, "w"), random_leaf(ctx, rng, DType::F32, {m.K, m.N}, "x"));
        }, quant ? kQuant : (m.w == DType::F32 ? kF32 : 1e-9));
    }
    add("mul_mat_gqa_broadcast_f16", [](Context& ctx, std::mt19937& rng) {
        return ops::mul_mat(ctx, random_leaf(ctx, rng, DType::F16, {64, 9, 2}, "k"), random_leaf(ctx, rng, DType::F32, {64, 4, 6}, "q"));
    }, 1e-9);
    add("mul_mat_broadcast_dim3_q8", [](Context& ctx, std::mt19937& rng) {
        return ops::mul_mat(ctx, random_leaf(ctx, rng, DType::Q8_0, {64, 5, 1, 2}, "w"), random_leaf(ctx, rng, DType::F32, {64, 3, 2, 4}, "x"));
    }, kQuant);
    add("mul_mat_strided_x", [](Context& ctx, std::mt19937& rng) {
        Tensor* x = random_leaf(ctx, rng, DType::F32, {32, 3, 4}, "x");
        return ops::mul_mat(ctx, random_leaf(ctx, rng, DType::F32, {32, 6}, "w"), ops::permute(ctx, x, 0, 2, 1, 3));
    }, kF32);

    // ---- data movement ----
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
        add(std::string("get_rows_") + dtype_name(t), [t](Context& ctx, std::mt19937& rng) {
            Tensor* table = random_leaf(ctx, rng, t, {256, 50}, "table");
            return ops::get_rows(ctx, table, int_leaf(ctx, {0, 49, 7, 7, 23}, "ids"));
        }, dtype_traits(t).block_elems > 1 ? 0.0 : 0.0);
    }
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
        add(std::string("cpy_kv_view_") + dtype_name(t), [t](Context& ctx, std::mt19937& rng) {
            // Write k [D=32, nh=2, T=3] into rows 5..7 of a cache [64, 10].
            Tensor* cache = random_leaf(ctx, rng, t, {64, 10}, "cache");
            Tensor* k = random_leaf(ctx, rng, DType::F32, {32, 2, 3}, "k");
            Tensor* dst = ops::view_2d(ctx, cache, 64, 3, cache->nb[1], 5 * cache->nb[1]);
            return ops::cpy(ctx, k, dst);
        }, t == DType::F32 ? 0.0 : 1e-5);
    }
    add("cpy_transposed_src", [](Context& ctx, std::mt19937& rng) {
        Tensor* dst = random_leaf(ctx, rng, DType::F16, {5, 9}, "dst");
        return ops::cpy(ctx, transposed_input(ctx, rng, 9, 5), dst);
    }, 1e-5);
    add("cont_permuted", [](Context& ctx, std::mt19937& rng) {
        return ops::cont(ctx, ops::permute(ctx, random_leaf(ctx, rng, DType::F32, {7, 3, 5}, "a"), 2, 0, 1, 3));
    }, 0.0);
    for (int dim = 0; dim < 3; ++dim) {
        add("concat_dim" + std::to_string(dim), [dim](Context& ctx, std::mt19937& rng) {
            int64_t nb_[3] = {6, 4, 3};
            nb_[dim] = 2;
            Tensor* a = random_leaf(ctx, rng, DType::F32, {6, 4, 3}, "a");
            Tensor* b = random_leaf(ctx, rng, DType::F32, {nb_[0], nb_[1], nb_[2]}, "b");
            return ops::concat(ctx, a, b, dim);
        }, 0.0);
    }
    add("argmax", [](Context& ctx, std::mt19937& rng) { return ops::argmax(ctx, random_leaf(ctx, rng, DType::F32, {1000, 3}, "logits")); }, -1);
    add("argmax_one", [](Context& ctx, std::mt19937& rng) { return ops::argmax(ctx, random_leaf(ctx, rng, DType::F32, {1, 2}, "logits")); }, -1);
    return c;
}

const std::vector<OpCase>& kCases() {
    static const std::vector<OpCase> v = make_cases();
    return v;
}

class OpsTest : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(OpsTest, MatchesReference) {
    const BackendSpec& spec = kBackends()[std::get<0>(GetParam())];
    const OpCase& oc = kCases()[std::get<1>(GetParam())];
    Context ctx;
    std::mt19937 rng(1234 + std::get<1>(GetParam()));
    Tensor* out = oc.build(ctx, rng);
    out->set_name("out");
    out->flags |= kFlagOutput;
    Graph g;
    g.expand(out);

    std::unique_ptr<Backend> be = spec.make();
    Scheduler sched({be.get()});
    sched.compute(g);
    const std::vector<double> got = testutil::values(*out);

    for (Tensor* n : g.nodes()) cpu::compute_reference(*n);
    const std::vector<double> want = testutil::values(*out);
    ASSERT_EQ(got.size(), want.size());
    for (double v : got) ASSERT_TRUE(std::isfinite(v)) << "non-finite output";
    if (oc.max_nmse < 0) {
        EXPECT_EQ(got, want);
    } else {
        const double e = testutil::nmse(got, want);
        EXPECT_LE(e, oc.max_nmse);
        RecordProperty("nmse", std::to_string(e));
        if (std::getenv("HEARTH_TEST_VERBOSE")) std::printf("nmse %-40s %.3g\n", oc.name.c_str(), e);
    }
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
    return kBackends()[std::get<0>(info.param)].name + "_" + kCases()[std::get<1>(info.param)].name;
}

INSTANTIATE_TEST_SUITE_P(Cpu, OpsTest,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(kBackends().size())),
                                            ::testing::Range(0, static_cast<int>(kCases().size()))),
                         case_name);

}  // namespace
