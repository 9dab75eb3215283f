// CPU backend op fusion (backend/cpu/cpu_fusion.h): rms_norm followed by a mul with a weight row
// runs as one node, with bitwise the results of the two nodes, on every ISA level and thread
// count; pairs whose norm output is read elsewhere, is a graph output, or meets a full-size
// operand stay apart.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/scheduler.h"
#include "core/context.h"
#include "core/graph.h"
#include "core/ops.h"
#include "test_core_util.h"

namespace hearth {
namespace {

enum class Shape { Plain, SecondReader, NormIsOutput, FullOperand, HeadRows };

struct Result {
    std::vector<double> out;
    size_t fused = 0;
};

// x [E, T] -> rms_norm -> mul(w) (variants per Shape) -> add(x) -> output.
Result run(Shape shape, int64_t E, int64_t T, int nth, cpu::Isa isa, bool fuse) {
    std::mt19937 rng(11);
    Context ctx;
    Tensor* x = testutil::random_leaf(ctx, rng, DType::F32, {E, T}, "x");
    Tensor* w = testutil::random_leaf(ctx, rng, DType::F32, {E}, "w", 0.5f, 1.5f);
    Tensor* full = testutil::random_leaf(ctx, rng, DType::F32, {E, T}, "full");
    Tensor* out = nullptr;
    if (shape == Shape::HeadRows) {  // q/k-norm shape: [hd, heads, T] rows, weight of hd
        const int64_t hd = 16;
        Tensor* wh = testutil::random_leaf(ctx, rng, DType::F32, {hd}, "wh", 0.5f, 1.5f);
        Tensor* xr = ops::reshape(ctx, x, {hd, E / hd, T});
        out = ops::reshape(ctx, ops::mul(ctx, ops::rms_norm(ctx, xr, 1e-6f), wh), {E, T});
    } else {
        Tensor* n = ops::rms_norm(ctx, x, 1e-6f);
        Tensor* m = shape == Shape::FullOperand ? ops::mul(ctx, n, full) : ops::mul(ctx, n, w);
        out = m;
        if (shape == Shape::SecondReader) out = ops::add(ctx, m, n);
        if (shape == Shape::NormIsOutput) n->flags |= kFlagOutput;
    }
    out = ops::add(ctx, out, x);
    out->flags |= kFlagOutput;
    Graph g;
    g.expand(out);
    cpu::CpuBackend cpu(nth, "CPU", isa);
    cpu.set_fuse_ops(fuse);
    Scheduler s({&cpu});
    s.compute(g);
    return {testutil::values(*out), cpu.fused_pairs()};
}

std::vector<cpu::Isa> isa_levels() {
    std::vector<cpu::Isa> v{cpu::Isa::Scalar};
    if (static_cast<int>(cpu::best_isa()) >= static_cast<int>(cpu::Isa::Avx2)) v.push_back(cpu::Isa::Avx2);
    return v;
}

TEST(OpsFusion, RmsNormTimesWeightIsOneNodeWithTheSameBits) {
    for (Shape shape : {Shape::Plain, Shape::HeadRows})
        for (int64_t E : {16, 96, 1027 / 16 * 16 + 3 * 16})
            for (int64_t T : {1, 5, 64})
                for (cpu::Isa isa : isa_levels())
                    for (int nth : {1, 2, 3}) {
                        const Result ref = run(shape, E, T, 1, isa, false);
                        const Result fused = run(shape, E, T, nth, isa, true);
                        EXPECT_EQ(ref.fused, 0u);
                        EXPECT_EQ(fused.fused, 1u) << "shape " << int(shape) << " E " << E << " T " << T;
                        ASSERT_EQ(fused.out, ref.out) << "shape " << int(shape) << " E " << E << " T " << T
                                                      << " nth " << nth << " isa " << cpu::isa_name(isa);
                    }
}

TEST(OpsFusion, PairsThatMustStayApartAreLeftAlone) {
    for (Shape shape : {Shape::SecondReader, Shape::NormIsOutput, Shape::FullOperand})
        for (int nth : {1, 2}) {
            const Result ref = run(shape, 96, 7, 1, cpu::Isa::Scalar, false);
            const Result r = run(shape, 96, 7, nth, cpu::best_isa(), true);
            EXPECT_EQ(r.fused, 0u) << "shape " << int(shape);
            // Scalar and AVX2 rows give the same bits (cpu_rows.h), so this also checks the result.
            EXPECT_EQ(r.out, ref.out) << "shape " << int(shape) << " nth " << nth;
        }
}

}  // namespace
}  // namespace hearth
