// The AVX-512 flash-attention path (flash_attn_avx512.cpp): against the scalar reference over awkward
// shapes / cache types / masks, and batch invariance at the op level (each query row computed in a
// big batch, alone, and with other sequences' cells between its keys: bitwise equal).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/scheduler.h"
#include "core/graph.h"
#include "core/mask.h"
#include "core/ops.h"
#include "test_core_util.h"

using namespace hearth;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One attention problem in host memory. q: [D, nq, nh] (d fastest), k: [D, nkv, nhkv], v: [Dv, nkv,
// nhkv] as floats (stored as kt / vt in the graph), mask: [nkv, nq] (empty = no mask).
struct Problem {
    int64_t D = 64, Dv = 64, nq = 1, nkv = 1, nh = 1, nhkv = 1;
    DType kt = DType::F16, vt = DType::F16;
    float softcap = 0.0f;
    std::vector<float> q, k, v, mask;
};

Problem random_problem(std::mt19937& rng, int64_t D, int64_t Dv, int64_t nq, int64_t nkv, int64_t nh, int64_t nhkv,
                       DType kt, DType vt) {
    Problem p;
    p.D = D, p.Dv = Dv, p.nq = nq, p.nkv = nkv, p.nh = nh, p.nhkv = nhkv, p.kt = kt, p.vt = vt;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    p.q.resize(static_cast<size_t>(D * nq * nh));
    p.k.resize(static_cast<size_t>(D * nkv * nhkv));
    p.v.resize(static_cast<size_t>(Dv * nkv * nhkv));
    for (auto* vec : {&p.q, &p.k, &p.v})
        for (float& x : *vec) x = 2.0f * u(rng);
    return p;
}

// Causal mask (query i at position nkv - nq + i), optional sliding window, optional fully masked
// rows (every 5th query).
void causal_mask(Problem& p, int32_t window, bool dead_rows) {
    std::vector<int32_t> qp, kp;
    for (int64_t i = 0; i < p.nq; ++i) qp.push_back(static_cast<int32_t>(p.nkv - p.nq + i));
    for (int64_t j = 0; j < p.nkv; ++j) kp.push_back(static_cast<int32_t>(j));
    MaskSpec ms;
    ms.n_kv = p.nkv;
    ms.n_q = p.nq;
    ms.q_pos = qp.data();
    ms.kv_pos = kp.data();
    ms.window = window;
    p.mask.assign(static_cast<size_t>(p.nkv * p.nq), 0.0f);
    fill_kq_mask(ms, p.mask.data(), p.nkv);
    if (dead_rows)
        for (int64_t i = 2; i < p.nq; i += 5)
            for (int64_t j = 0; j < p.nkv; ++j) p.mask[static_cast<size_t>(i * p.nkv + j)] = kNegInf;
}

Tensor* leaf(Context& ctx, DType t, std::initializer_list<int64_t> ne, const std::vector<float>& vals, const char* name) {
    Tensor* x = ctx.new_tensor(t, ne, name);
    ctx.alloc_data(x);
    const int64_t n = x->ne[0];
    for (int64_t r = 0; r < x->nrows(); ++r) {
        const float* src = vals.data() + r * n;
        char* dst = static_cast<char*>(x->data) + r * x->nb[1];
        switch (t) {
            case DType::F32: std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n)); break;
            case DType::F16:
                for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = fp32_to_fp16(src[i]);
                break;
            case DType::BF16:
                for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(dst)[i] = fp32_to_bf16(src[i]);
                break;
            default: quant::quantize_row(t, src, dst, n); break;
        }
    }
    return x;
}

// Output [Dv, nh, nq] as floats: through a CPU backend at `isa` with `threads`, or (isa empty)
// the scalar double-precision reference.
std::vector<float> run(const Problem& p, std::optional<cpu::Isa> isa, int threads) {
    Context ctx;
    Tensor* q = leaf(ctx, DType::F32, {p.D, p.nq, p.nh}, p.q, "q");
    Tensor* k = leaf(ctx, p.kt, {p.D, p.nkv, p.nhkv}, p.k, "k");
    Tensor* v = leaf(ctx, p.vt, {p.Dv, p.nkv, p.nhkv}, p.v, "v");
    Tensor* mask = p.mask.empty() ? nullptr : leaf(ctx, DType::F32, {p.nkv, p.nq}, p.mask, "mask");
    Tensor* out = ops::flash_attn(ctx, q, k, v, mask, 1.0f / std::sqrt(static_cast<float>(p.D)), p.softcap);
    out->set_name("out");
    out->flags |= kFlagOutput;
    Graph g;
    g.expand(out);
    std::unique_ptr<cpu::CpuBackend> be;  // owns the output's buffer until it is read
    std::unique_ptr<Scheduler> sched;
    if (isa) {
        be = std::make_unique<cpu::CpuBackend>(threads, "CPU", *isa);
        sched = std::make_unique<Scheduler>(std::vector<Backend*>{be.get()});
        sched->compute(g);
    } else {
        for (Tensor* n : g.nodes()) {
            if (n->data == nullptr) ctx.alloc_data(n);
            cpu::compute_reference(*n);
        }
    }
    const std::vector<double> d = testutil::values(*out);
    return std::vector<float>(d.begin(), d.end());
}

// Query row i of p alone (nq = 1, same K/V, its mask row).
Problem row_alone(const Problem& p, int64_t i) {
    Problem r = p;
    r.nq = 1;
    r.q.clear();
    for (int64_t h = 0; h < p.nh; ++h)
        r.q.insert(r.q.end(), p.q.begin() + (h * p.nq + i) * p.D, p.q.begin() + (h * p.nq + i + 1) * p.D);
    if (!p.mask.empty()) r.mask.assign(p.mask.begin() + i * p.nkv, p.mask.begin() + (i + 1) * p.nkv);
    return r;
}

bool have_avx512() { return cpu::best_isa() == cpu::Isa::Avx512; }

double nmse(const std::vector<float>& a, const std::vector<float>& b) {
    return testutil::nmse(std::vector<double>(a.begin(), a.end()), std::vector<double>(b.begin(), b.end()));
}

struct Shape {
    int64_t D, Dv, nq, nkv, nh, nhkv;
};

TEST(OpsFlashAttnAvx512, MatchesReferenceAwkwardShapes) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    const Shape shapes[] = {{64, 64, 1, 37, 8, 2},    {128, 128, 3, 130, 16, 8}, {256, 256, 17, 70, 4, 1},
                            {128, 64, 100, 200, 8, 1}, {80, 48, 17, 65, 4, 4},    {64, 128, 1, 300, 8, 8},
                            {40, 24, 5, 9, 2, 1},     {128, 128, 100, 100, 2, 2}, {64, 64, 40, 100, 32, 1}};
    int case_id = 0;
    for (const Shape& s : shapes)
        for (DType kv : {DType::F32, DType::F16, DType::BF16})
            for (int mask_kind = 0; mask_kind < 4; ++mask_kind) {  // none, causal, window 24 + dead rows, causal + softcap
                SCOPED_TRACE("D " + std::to_string(s.D) + " Dv " + std::to_string(s.Dv) + " nq " + std::to_string(s.nq) +
                             " nkv " + std::to_string(s.nkv) + " nh " + std::to_string(s.nh) + "/" + std::to_string(s.nhkv) +
                             " " + dtype_name(kv) + " mask " + std::to_string(mask_kind));
                std::mt19937 rng(100 + case_id++);
                Problem p = random_problem(rng, s.D, s.Dv, s.nq, s.nkv, s.nh, s.nhkv, kv, kv);
                if (mask_kind >= 1) causal_mask(p, mask_kind == 2 ? 24 : 0, mask_kind == 2);
                if (mask_kind == 3) p.softcap = 3.0f;
                const std::vector<float> want = run(p, std::nullopt, 1);
                for (int threads : {1, 3}) {
                    const std::vector<float> got = run(p, cpu::Isa::Avx512, threads);
                    ASSERT_EQ(got.size(), want.size());
                    for (float x : got) ASSERT_TRUE(std::isfinite(x));
                    EXPECT_LE(nmse(got, want), kv == DType::F32 ? 1e-10 : 1e-9) << threads << " threads";
                }
            }
}

TEST(OpsFlashAttnAvx512, QuantizedVWithF16K) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    for (DType vt : {DType::Q8_0, DType::Q4_0}) {
        std::mt19937 rng(7);
        Problem p = random_problem(rng, 128, 128, 20, 150, 8, 2, DType::F16, vt);
        causal_mask(p, 0, true);
        const std::vector<float> want = run(p, std::nullopt, 1);
        const std::vector<float> got = run(p, cpu::Isa::Avx512, 2);
        EXPECT_LE(nmse(got, want), 1e-9) << dtype_name(vt);  // the reference reads the same quantized V
    }
}

TEST(OpsFlashAttnAvx512, FullyMaskedRowsAreZero) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    std::mt19937 rng(3);
    Problem p = random_problem(rng, 64, 64, 12, 90, 4, 2, DType::F16, DType::F16);
    causal_mask(p, 0, true);
    const std::vector<float> got = run(p, cpu::Isa::Avx512, 2);
    for (int64_t i = 2; i < p.nq; i += 5)
        for (int64_t h = 0; h < p.nh; ++h)
            for (int64_t d = 0; d < p.Dv; ++d) EXPECT_EQ(got[static_cast<size_t>((i * p.nh + h) * p.Dv + d)], 0.0f);
}

// Each query row of a big batch equals the row computed alone, bitwise, for every cache type and
// both a causal and a sliding-window mask (rows sit at every slot of the query blocks and of the
// register blocks; decode takes the direct-read path, the batch the converted-tile path).
TEST(OpsFlashAttnAvx512, RowsInBatchEqualRowsAlone) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    struct C {
        int64_t D, Dv, nq, nkv, nh, nhkv;
        DType kt, vt;
        int32_t window;
        float softcap;
    };
    const C cases[] = {{128, 128, 37, 300, 16, 8, DType::F16, DType::F16, 0, 0},
                       {64, 64, 40, 130, 8, 1, DType::F32, DType::F32, 50, 0},
                       {256, 256, 19, 100, 4, 1, DType::BF16, DType::BF16, 0, 30.0f},
                       {128, 96, 21, 90, 6, 2, DType::F16, DType::Q8_0, 0, 0},
                       {80, 80, 9, 64, 3, 3, DType::F16, DType::F32, 0, 0},
                       {64, 64, 12, 80, 32, 2, DType::F16, DType::F16, 0, 0}};
    int id = 0;
    for (const C& c : cases) {
        SCOPED_TRACE("case " + std::to_string(id));
        std::mt19937 rng(500 + id++);
        Problem p = random_problem(rng, c.D, c.Dv, c.nq, c.nkv, c.nh, c.nhkv, c.kt, c.vt);
        causal_mask(p, c.window, true);
        p.softcap = c.softcap;
        const std::vector<float> batch = run(p, cpu::Isa::Avx512, 2);
        const std::vector<float> batch1 = run(p, cpu::Isa::Avx512, 1);
        ASSERT_EQ(0, std::memcmp(batch.data(), batch1.data(), sizeof(float) * batch.size())) << "threads change bits";
        const size_t row = static_cast<size_t>(p.nh * p.Dv);
        for (int64_t i = 0; i < p.nq; ++i) {
            const std::vector<float> alone = run(row_alone(p, i), cpu::Isa::Avx512, 2);
            ASSERT_EQ(alone.size(), row);
            EXPECT_EQ(0, std::memcmp(alone.data(), batch.data() + i * row, sizeof(float) * row)) << "query " << i;
        }
    }
}

// Inside one 64-cell tile, a sequence's keys spread over cells with other sequences' cells between
// them (masked for it) give bitwise what the same keys packed at the start give.
TEST(OpsFlashAttnAvx512, InterleavedSequencesEqualPacked) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    std::mt19937 rng(11);
    const int64_t D = 128, nh = 4, nhkv = 2, nkv = 60, n_own = 13;
    Problem packed = random_problem(rng, D, D, 1, n_own, nh, nhkv, DType::F16, DType::F16);
    Problem mixed = random_problem(rng, D, D, 1, nkv, nh, nhkv, DType::F16, DType::F16);
    mixed.q = packed.q;
    mixed.mask.assign(static_cast<size_t>(nkv), kNegInf);
    for (int64_t j = 0; j < n_own; ++j) {
        const int64_t cell = 3 + 4 * j;  // every 4th cell belongs to this sequence
        mixed.mask[static_cast<size_t>(cell)] = 0.0f;
        for (int64_t h = 0; h < nhkv; ++h) {
            std::memcpy(&mixed.k[static_cast<size_t>((h * nkv + cell) * D)], &packed.k[static_cast<size_t>((h * n_own + j) * D)], sizeof(float) * D);
            std::memcpy(&mixed.v[static_cast<size_t>((h * nkv + cell) * D)], &packed.v[static_cast<size_t>((h * n_own + j) * D)], sizeof(float) * D);
        }
    }
    packed.mask.assign(static_cast<size_t>(n_own), 0.0f);
    const std::vector<float> a = run(packed, cpu::Isa::Avx512, 1);
    const std::vector<float> b = run(mixed, cpu::Isa::Avx512, 1);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size()));
}

// Units claimed dynamically (OpCtx::unit_counter, as CpuBackend does for ops that claim units) give
// the bits of one thread doing every unit: a prompt-shaped problem, and decode-shaped ones whose
// units walk several KV heads in step (8 heads per unit on 1 thread, 4 on 2, 2 on 3).
void expect_same_bits_for_any_split(std::mt19937& rng, int64_t nq, int64_t nkv, int64_t nh, int64_t nhkv, DType vt) {
    Problem p = random_problem(rng, 128, 128, nq, nkv, nh, nhkv, DType::F16, vt);
    causal_mask(p, 0, true);
    Context ctx;
    Tensor* q = leaf(ctx, DType::F32, {p.D, p.nq, p.nh}, p.q, "q");
    Tensor* k = leaf(ctx, p.kt, {p.D, p.nkv, p.nhkv}, p.k, "k");
    Tensor* v = leaf(ctx, p.vt, {p.Dv, p.nkv, p.nhkv}, p.v, "v");
    Tensor* mask = leaf(ctx, DType::F32, {p.nkv, p.nq}, p.mask, "mask");
    Tensor* out = ops::flash_attn(ctx, q, k, v, mask, 0.09f);
    ctx.alloc_data(out);
    auto run_threads = [&](int nth, bool dynamic) {
        const size_t per = cpu::flash_attn_work_size(*out, nth).per_thread + 64;
        std::vector<unsigned char> scratch(per * static_cast<size_t>(nth));
        std::atomic<int64_t> counter{0};
        std::memset(out->data, 0xFF, out->nbytes());  // NaN: a unit nobody ran shows
        std::vector<std::thread> ts;
        for (int i = 0; i < nth; ++i)
            ts.emplace_back([&, i] {
                cpu::OpCtx c;
                c.ith = i;
                c.nth = nth;
                c.isa = cpu::Isa::Avx512;
                c.per_thread = scratch.data() + per * static_cast<size_t>(i);
                c.unit_counter = dynamic ? &counter : nullptr;
                cpu::compute_node(*out, c);
            });
        for (auto& t : ts) t.join();
        const float* o = static_cast<const float*>(out->data);
        return std::vector<float>(o, o + out->nelements());
    };
    const std::vector<float> one = run_threads(1, false);
    for (int nth : {2, 3}) {
        for (bool dynamic : {false, true}) {
            const std::vector<float> got = run_threads(nth, dynamic);
            EXPECT_EQ(0, std::memcmp(one.data(), got.data(), sizeof(float) * one.size())) << nth << " threads, dynamic " << dynamic;
        }
    }
}

TEST(OpsFlashAttnAvx512, DynamicUnitClaimsSameBits) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    std::mt19937 rng(21);
    expect_same_bits_for_any_split(rng, 70, 200, 8, 2, DType::F16);
    expect_same_bits_for_any_split(rng, 1, 300, 16, 8, DType::F16);   // decode: multi-head units
    expect_same_bits_for_any_split(rng, 2, 150, 8, 8, DType::Q8_0);   // quantized V converted per head
}

// A decode row computed by a unit that walks several KV heads gives the bits of the same row in a
// prompt batch (one KV head per unit there), for each plan of heads per unit.
TEST(OpsFlashAttnAvx512, MultiHeadDecodeUnitsEqualPromptRows) {
    if (!have_avx512()) GTEST_SKIP() << "no AVX-512";
    std::mt19937 rng(33);
    Problem p = random_problem(rng, 128, 128, 24, 333, 16, 8, DType::F16, DType::F16);
    causal_mask(p, 0, true);
    const std::vector<float> batch = run(p, cpu::Isa::Avx512, 1);
    const size_t row = static_cast<size_t>(p.nh * p.Dv);
    for (int nth : {1, 2, 4}) {
        const std::vector<float> alone = run(row_alone(p, p.nq - 1), cpu::Isa::Avx512, nth);
        ASSERT_EQ(alone.size(), row);
        EXPECT_EQ(0, std::memcmp(alone.data(), batch.data() + (p.nq - 1) * row, sizeof(float) * row)) << nth << " threads";
    }
}

}  // namespace
