// Batch invariance of the quantized matmul (issue 5): the output column of one activation row must
// be bitwise the same whether it is computed alone or inside a batch of n rows (n = 1..33), for
// every weight type and ISA, and each ISA's repacked-weight kernel (repack.h; AVX-512 VNNI and AVX2)
// must equal that ISA's unpacked path bitwise. Also the repack registry's lifetime.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/repack.h"
#include "core/error.h"
#include "quant/fp16.h"

namespace hearth::cpu {
namespace {

const DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q5_0, DType::Q5_K,
                        DType::Q4_1, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::IQ4_NL, DType::IQ4_XS};
const DType kRepacked[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL,
                            DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS};

// Byte offsets of the fp16 scale fields of one block (the other bytes may be any pattern).
std::vector<int> f16_fields(DType t) {
    switch (t) {
        case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
        case DType::Q2_K: return {80, 82};
        case DType::Q3_K: return {108};
        case DType::Q6_K: return {208};
        default: return {0};
    }
}

std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t k, size_t row_bytes, std::mt19937& rng) {
    const DTypeTraits& tr = dtype_traits(t);
    std::vector<uint8_t> w(row_bytes * rows);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t blk = 0; blk < k / tr.block_elems; ++blk)
            for (int off : f16_fields(t)) {
                const uint16_t h = fp32_to_fp16(scale(rng));
                std::memcpy(w.data() + r * row_bytes + blk * tr.block_bytes + off, &h, 2);
            }
    return w;
}

// k with a partial group of 8 sub-blocks and more sub-blocks than one k-chunk of the panel kernel.
int64_t test_k(DType t) { return dtype_traits(t).block_elems == 256 ? 768 : 800; }

struct Acts {
    std::vector<uint8_t> q;  // n quantized rows
    size_t row;              // bytes per quantized row
};
Acts quantized_acts(DType t, int64_t k, int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n * k));
    for (auto& v : x) v = nd(rng);
    for (int64_t i = 0; i < k; i += 97) x[static_cast<size_t>(i)] *= 20.0f;  // a few outliers per row
    Acts a;
    a.row = quantized_activation_bytes(t, k, 1);
    a.q.resize(a.row * static_cast<size_t>(n));
    quantize_activations(t, x.data(), k, k, 0, n, a.q.data());
    return a;
}

std::vector<Isa> isas() {
    std::vector<Isa> v = {Isa::Scalar};
    if (static_cast<int>(best_isa()) >= static_cast<int>(Isa::Avx2)) v.push_back(Isa::Avx2);
    if (best_isa() == Isa::Avx512) v.push_back(Isa::Avx512);
    return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

constexpr int64_t kMaxN = 33;

TEST(KernelsBatchInvariance, ColumnOfABatchEqualsTheColumnAlone) {
    for (Isa isa : isas()) {
        for (DType t : kTypes) {
            SCOPED_TRACE(std::string(dtype_name(t)) + " " + isa_name(isa));
            std::mt19937 rng(7 + static_cast<int>(t));
            const int64_t k = test_k(t), rows = 40;  // 40: a partial 16-row panel
            const size_t rb = dtype_row_bytes(t, k);
            const std::vector<uint8_t> w = random_weights(t, rows, k, rb, rng);
            const Acts a = quantized_acts(t, k, kMaxN, rng);
            std::vector<float> full(static_cast<size_t>(kMaxN * rows));
            matmul_quantized_isa(isa, t, w.data(), rb, a.q.data(), k, kMaxN, 0, rows, full.data(), rows);
            std::vector<float> out(static_cast<size_t>(kMaxN * rows));
            int bad = 0;
            for (int64_t n = 1; n <= kMaxN; ++n) {  // the first n rows as a batch
                matmul_quantized_isa(isa, t, w.data(), rb, a.q.data(), k, n, 0, rows, out.data(), rows);
                for (int64_t i = 0; i < n * rows; ++i) bad += !same_bits(out[i], full[i]);
            }
            for (int64_t j = 0; j < kMaxN; ++j) {  // each row alone, and split row ranges (threads)
                matmul_quantized_isa(isa, t, w.data(), rb, a.q.data() + j * a.row, k, 1, 0, 5, out.data(), rows);
                matmul_quantized_isa(isa, t, w.data(), rb, a.q.data() + j * a.row, k, 1, 5, rows, out.data(), rows);
                for (int64_t i = 0; i < rows; ++i) bad += !same_bits(out[i], full[j * rows + i]);
            }
            EXPECT_EQ(bad, 0);
        }
    }
}

// Each ISA's repacked kernel (AVX-512 VNNI and AVX2, every repacked type) against
// that ISA's unpacked panel kernel, n = 1..33, two row ranges (threads' 16-row splits), at test_k
// and at twice it (more sub-blocks than one k-chunk of the repacked kernels: partial sums continued).
void check_repacked_equals_unpacked(Isa isa) {
    int tested = 0;
    for (DType t : kRepacked) {
        for (int64_t k : {test_k(t), 2 * test_k(t)}) {
            if (!repacked_kernel_supports(isa, t)) continue;
            ++tested;
            SCOPED_TRACE(std::string(dtype_name(t)) + " " + isa_name(isa) + " k=" + std::to_string(k));
            std::mt19937 rng(11 + static_cast<int>(t));
            const int64_t rows = 48;
            const size_t rb = dtype_row_bytes(t, k) + 6;  // a stride larger than the row
            const std::vector<uint8_t> w = random_weights(t, rows, k, rb, rng);
            ASSERT_TRUE(repack_supported(t, rows, k));
            std::vector<uint8_t> packed(repacked_bytes(t, rows, k));
            repack_weights(t, w.data(), rb, rows, k, packed.data());
            const Acts a = quantized_acts(t, k, kMaxN, rng);
            std::vector<float> ref(static_cast<size_t>(kMaxN * rows)), out(ref.size());
            int bad = 0;
            for (int64_t n = 1; n <= kMaxN; ++n) {
                matmul_quantized_isa(isa, t, w.data(), rb, a.q.data(), k, n, 0, rows, ref.data(), rows);
                matmul_repacked_isa(isa, t, packed.data(), a.q.data(), k, n, 0, 16, out.data(), rows);
                matmul_repacked_isa(isa, t, packed.data(), a.q.data(), k, n, 16, rows, out.data(), rows);
                for (int64_t i = 0; i < n * rows; ++i) bad += !same_bits(out[i], ref[i]);
            }
            EXPECT_EQ(bad, 0);
        }
    }
    EXPECT_EQ(tested, 24);
}

TEST(KernelsBatchInvariance, RepackedEqualsUnpackedForEveryBatch) {
    if (!repacked_kernel_available(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI";
    check_repacked_equals_unpacked(Isa::Avx512);
}

TEST(KernelsBatchInvariance, RepackedAvx2EqualsUnpackedAvx2ForEveryBatch) {
    if (!repacked_kernel_available(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
    for (DType t : kRepacked) EXPECT_TRUE(repacked_kernel_supports(Isa::Avx2, t)) << dtype_name(t);
    check_repacked_equals_unpacked(Isa::Avx2);
}

TEST(KernelsBatchInvariance, RepackedKernelRejectsScalarAndUnpackedTypes) {
    EXPECT_FALSE(repacked_kernel_available(Isa::Scalar));
    EXPECT_FALSE(repacked_kernel_supports(Isa::Scalar, DType::Q4_0));
    EXPECT_FALSE(repacked_kernel_supports(Isa::Avx2, DType::F16));
    EXPECT_FALSE(repacked_kernel_supports(Isa::Avx512, DType::Q8_1));
    std::vector<uint8_t> packed(repacked_bytes(DType::Q4_0, 16, 32));
    std::vector<uint8_t> aq(quantized_activation_bytes(DType::Q4_0, 32, 1));
    std::vector<float> out(16);
    try {
        matmul_repacked_isa(Isa::Scalar, DType::Q4_0, packed.data(), aq.data(), 32, 1, 0, 16, out.data(), 16);
        ADD_FAILURE() << "no throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    }
}

TEST(KernelsBatchInvariance, RepackRejectsBadShapes) {
    EXPECT_FALSE(repack_supported(DType::Q4_0, 40, 64));   // rows not a multiple of 16
    EXPECT_FALSE(repack_supported(DType::Q4_K, 16, 128));  // k not a multiple of 256
    EXPECT_FALSE(repack_supported(DType::F16, 16, 256));   // no repacked layout
    EXPECT_TRUE(repack_supported(DType::Q6_K, 32, 512));
    std::vector<uint8_t> w(18 * 40), dst(1 << 12);
    EXPECT_THROW(repack_weights(DType::Q4_0, w.data(), 18, 40, 32, dst.data()), Error);
}

TEST(KernelsBatchInvariance, RegistryFollowsTheOwnerLifetime) {
    if (!repacked_kernel_available(active_isa()) || !repack_enabled()) GTEST_SKIP() << "repacking off here";
    std::mt19937 rng(3);
    const int64_t k = 256, rows = 32;
    const size_t rb = dtype_row_bytes(DType::Q4_K, k);
    const std::vector<uint8_t> w = random_weights(DType::Q4_K, rows, k, rb, rng);
    const std::vector<uint8_t> odd = random_weights(DType::Q4_K, 8, k, rb, rng);
    {
        RepackedWeights rw({{w.data(), DType::Q4_K, k, rows, rb}, {odd.data(), DType::Q4_K, k, 8, rb}});
        EXPECT_EQ(rw.count(), 1u);  // the 8-row matrix stays unpacked
        EXPECT_EQ(rw.bytes(), repacked_bytes(DType::Q4_K, rows, k));
        const RepackedMatrix* m = find_repacked(w.data());
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(m->rows, rows);
        EXPECT_EQ(find_repacked(odd.data()), nullptr);
    }
    EXPECT_EQ(find_repacked(w.data()), nullptr);
}

}  // namespace
}  // namespace hearth::cpu
