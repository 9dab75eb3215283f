// Row kernels (backend/cpu/cpu_rows.h): every ISA level gives bitwise the scalar result, for
// lengths with and without a vector tail; the norms' double sums are the sums.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/cpu_rows.h"

namespace hearth::cpu {
namespace {

TEST(OpsRows, EveryIsaMatchesScalarBitwise) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    for (int64_t n : {1, 7, 8, 9, 31, 128, 1027}) {
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        for (auto& v : a) v = nd(rng);
        for (auto& v : b) v = nd(rng) + 0.5f;
        for (RowOp op : {RowOp::Add, RowOp::Mul, RowOp::Div}) {
            std::vector<float> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
            binary_row(Isa::Scalar, op, a.data(), b.data(), ref.data(), n);
            binary_row(best_isa(), op, a.data(), b.data(), got.data(), n);
            EXPECT_EQ(std::memcmp(ref.data(), got.data(), sizeof(float) * size_t(n)), 0) << "n=" << n;
            // in place (y == a), as graphs may compute it
            std::vector<float> inplace = a;
            binary_row(best_isa(), op, inplace.data(), b.data(), inplace.data(), n);
            EXPECT_EQ(std::memcmp(ref.data(), inplace.data(), sizeof(float) * size_t(n)), 0) << "n=" << n;
        }
        std::vector<float> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
        scale_row(Isa::Scalar, a.data(), 0.37f, ref.data(), n);
        scale_row(best_isa(), a.data(), 0.37f, got.data(), n);
        EXPECT_EQ(std::memcmp(ref.data(), got.data(), sizeof(float) * size_t(n)), 0) << "n=" << n;
    }
}

}  // namespace
}  // namespace hearth::cpu
