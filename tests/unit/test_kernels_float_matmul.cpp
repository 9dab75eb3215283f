// Tests of the float-weight matmul (src/backend/cpu/matmul_float.h): F32/F16/BF16 weights on every
// ISA this CPU has vs a double-precision reference (NMSE), awkward shapes (K not a multiple of the
// vector width, odd row ranges), bitwise batch invariance over n = 1..33, and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul_float.h"
#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu {
namespace {

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16};

std::vector<Isa> isas() {
    std::vector<Isa> v{Isa::Scalar};
    if (best_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
    if (best_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
    return v;
}

// rows x k weights of type t, row stride row_bytes (> a row, as views may have), plus their F32 values.
struct Weights {
    std::vector<uint8_t> bytes;
    size_t row_bytes = 0;
    std::vector<float> values;  // rows x k, what the stored weights decode to
};

Weights make_weights(DType t, int64_t rows, int64_t k, std::mt19937& rng) {
    Weights w;
    w.row_bytes = dtype_row_bytes(t, k) + 12;
    w.bytes.assign(w.row_bytes * rows, 0xA5);  // padding bytes hold junk
    w.values.resize(static_cast<size_t>(rows * k));
    std::normal_distribution<float> nd(0.0f, 0.5f);
    for (int64_t i = 0; i < rows; ++i) {
        uint8_t* row = w.bytes.data() + i * w.row_bytes;
        for (int64_t e = 0; e < k; ++e) {
            float v = nd(rng);
            if (t == DType::F32) {
                std::memcpy(row + 4 * e, &v, 4);
            } else {
                const uint16_t h = t == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
                v = t == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
                std::memcpy(row + 2 * e, &h, 2);
            }
            w.values[i * k + e] = v;
        }
    }
    return w;
}

std::vector<float> make_x(int64_t n, int64_t stride, std::mt19937& rng) {
    std::normal_distribution<float> nd;
    std::vector<float> x(static_cast<size_t>(n * stride));
    for (auto& v : x) v = nd(rng);
    return x;
}

// NMSE of out (n x rows, stride rows) vs the double reference over the row range [m0, m1).
double nmse(const Weights& w, const std::vector<float>& x, int64_t x_stride, int64_t k, int64_t n, int64_t m0,
            int64_t m1, const std::vector<float>& out, int64_t out_stride) {
    double err = 0, ref2 = 0;
    for (int64_t j = 0; j < n; ++j)
        for (int64_t i = m0; i < m1; ++i) {
            double ref = 0;
            for (int64_t e = 0; e < k; ++e) ref += static_cast<double>(w.values[i * k + e]) * x[j * x_stride + e];
            const double d = out[j * out_stride + i] - ref;
            err += d * d;
            ref2 += ref * ref;
        }
    return err / std::max(ref2, 1e-30);
}

TEST(KernelsFloatMatmul, MatchesDoubleReferenceOnEveryIsa) {
    std::mt19937 rng(7);
    const int64_t ks[] = {1, 5, 16, 37, 64, 100, 384, 1029};
    for (DType t : kTypes)
        for (Isa isa : isas())
            for (int64_t k : ks)
                for (int64_t n : {1, 9}) {  // n = 1 runs 8-row tiles, larger n 4-row tiles
                    const int64_t rows = 13, x_stride = k + 3;
                    const Weights w = make_weights(t, rows, k, rng);
                    const std::vector<float> x = make_x(n, x_stride, rng);
                    const int64_t out_stride = rows + 2;
                    std::vector<float> out(static_cast<size_t>(n * out_stride), -777.0f);
                    const int64_t m0 = 2, m1 = 11;  // an unaligned row range
                    matmul_float_isa(isa, t, w.bytes.data(), w.row_bytes, x.data(), x_stride, k, n, m0, m1, out.data(),
                                     out_stride);
                    const std::string what = std::string(dtype_name(t)) + " " + isa_name(isa) + " k=" + std::to_string(k) +
                                             " n=" + std::to_string(n);
                    EXPECT_LT(nmse(w, x, x_stride, k, n, m0, m1, out, out_stride), 1e-10) << what;
                    for (int64_t j = 0; j < n; ++j)  // rows outside the range are untouched
                        for (int64_t i = 0; i < out_stride; ++i)
                            if (i < m0 || i >= m1) {
                                ASSERT_EQ(out[j * out_stride + i], -777.0f) << what;
                            }
                }
}

// Every ISA agrees with the scalar path to float rounding (only the summation order differs).
TEST(KernelsFloatMatmul, IsaLevelsAgree) {
    std::mt19937 rng(11);
    for (DType t : kTypes) {
        const int64_t rows = 21, k = 203, n = 17;
        const Weights w = make_weights(t, rows, k, rng);
        const std::vector<float> x = make_x(n, k, rng);
        std::vector<float> ref(static_cast<size_t>(n * rows)), out(ref.size());
        matmul_float_isa(Isa::Scalar, t, w.bytes.data(), w.row_bytes, x.data(), k, k, n, 0, rows, ref.data(), rows);
        for (Isa isa : isas()) {
            matmul_float_isa(isa, t, w.bytes.data(), w.row_bytes, x.data(), k, k, n, 0, rows, out.data(), rows);
            for (size_t e = 0; e < out.size(); ++e)
                ASSERT_NEAR(out[e], ref[e], 1e-4f * (1.0f + std::fabs(ref[e]))) << dtype_name(t) << " " << isa_name(isa);
        }
    }
}

// The value for (weight row i, activation row j) is bitwise the same for any batch size n, any
// position of row j in the batch and any weight row range that contains i.
TEST(KernelsFloatMatmul, BatchInvariantBitwise) {
    std::mt19937 rng(3);
    for (DType t : kTypes)
        for (Isa isa : isas())
            for (int64_t k : {37, 384}) {
                const int64_t rows = 11, max_n = 33;
                const Weights w = make_weights(t, rows, k, rng);
                const std::vector<float> pool = make_x(max_n, k, rng);
                // Reference: each activation row alone (n = 1), one weight row at a time.
                std::vector<float> single(static_cast<size_t>(max_n * rows));
                for (int64_t j = 0; j < max_n; ++j)
                    for (int64_t i = 0; i < rows; ++i)
                        matmul_float_isa(isa, t, w.bytes.data(), w.row_bytes, pool.data() + j * k, k, k, 1, i, i + 1,
                                         single.data() + j * rows, rows);
                for (int64_t n = 1; n <= max_n; ++n) {
                    // Batch of n rows: pool rows rotated by n, so row p sits at a different slot each time.
                    std::vector<float> x(static_cast<size_t>(n * k));
                    std::vector<int64_t> src(static_cast<size_t>(n));
                    for (int64_t s = 0; s < n; ++s) {
                        src[s] = (s + n) % max_n;
                        std::memcpy(x.data() + s * k, pool.data() + src[s] * k, sizeof(float) * k);
                    }
                    std::vector<float> out(static_cast<size_t>(n * rows));
                    const int64_t split = n % rows;  // two row ranges, as threads split them
                    matmul_float_isa(isa, t, w.bytes.data(), w.row_bytes, x.data(), k, k, n, 0, split, out.data(), rows);
                    matmul_float_isa(isa, t, w.bytes.data(), w.row_bytes, x.data(), k, k, n, split, rows, out.data(),
                                     rows);
                    for (int64_t s = 0; s < n; ++s)
                        for (int64_t i = 0; i < rows; ++i)
                            ASSERT_EQ(std::memcmp(&out[s * rows + i], &single[src[s] * rows + i], 4), 0)
                                << dtype_name(t) << " " << isa_name(isa) << " k=" << k << " n=" << n << " slot=" << s
                                << " row=" << i;
                }
            }
}

// Large n crosses the activation block boundary of the ISA kernels; results stay the same.
TEST(KernelsFloatMatmul, LargeBatchCrossesBlocks) {
    std::mt19937 rng(5);
    const int64_t rows = 6, k = 1536, n = 70;  // 256 KiB / (4 * 1536) = 42 rows per block
    for (Isa isa : isas()) {
        const Weights w = make_weights(DType::F16, rows, k, rng);
        const std::vector<float> x = make_x(n, k, rng);
        std::vector<float> out(static_cast<size_t>(n * rows)), one(static_cast<size_t>(rows));
        matmul_float_isa(isa, DType::F16, w.bytes.data(), w.row_bytes, x.data(), k, k, n, 0, rows, out.data(), rows);
        for (int64_t j = 0; j < n; ++j) {
            matmul_float_isa(isa, DType::F16, w.bytes.data(), w.row_bytes, x.data() + j * k, k, k, 1, 0, rows,
                             one.data(), rows);
            ASSERT_EQ(std::memcmp(one.data(), out.data() + j * rows, sizeof(float) * rows), 0) << isa_name(isa) << " j=" << j;
        }
        EXPECT_LT(nmse(w, x, k, k, n, 0, rows, out, rows), 1e-10);
    }
}

TEST(KernelsFloatMatmul, RejectsBadArguments) {
    std::vector<float> w(64, 0.0f), x(64, 0.0f), out(64, 0.0f);
    EXPECT_TRUE(matmul_float_supported(DType::F16));
    EXPECT_FALSE(matmul_float_supported(DType::Q8_0));
    EXPECT_THROW(matmul_float(DType::Q8_0, w.data(), 128, x.data(), 8, 8, 1, 0, 1, out.data(), 1), Error);
    EXPECT_THROW(matmul_float(DType::F32, w.data(), 16, x.data(), 8, 8, 1, 0, 1, out.data(), 1), Error);  // stride < row
    EXPECT_THROW(matmul_float(DType::F32, w.data(), 32, x.data(), 8, 0, 1, 0, 1, out.data(), 1), Error);  // k = 0
    EXPECT_THROW(matmul_float(DType::F32, w.data(), 32, x.data(), 8, 8, 2, 0, 2, out.data(), 1), Error);  // out stride
    EXPECT_THROW(matmul_float(DType::F32, w.data(), 32, x.data(), 4, 8, 2, 0, 1, out.data(), 1), Error);  // x stride
    EXPECT_THROW(matmul_float(DType::F32, w.data(), 32, x.data(), 8, 8, 1, 1, 0, out.data(), 1), Error);  // range
    EXPECT_NO_THROW(matmul_float(DType::F32, w.data(), 32, x.data(), 8, 8, 0, 0, 1, out.data(), 1));    // n = 0
}

}  // namespace
}  // namespace hearth::cpu
