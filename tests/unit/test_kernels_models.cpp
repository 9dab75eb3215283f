// Quantized matmul kernels on real weight tensors: every matmul-capable tensor of the shared tiny
// models (quantized by llama.cpp) against dequantize-then-float-dot, on every ISA this CPU has.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace hearth::cpu {
namespace {

bool k_quant_like(DType t) {
    return t == DType::Q2_K || t == DType::Q3_K || t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K ||
           t == DType::IQ4_XS;
}

std::vector<Isa> all_isas() {
    std::vector<Isa> v = {Isa::Scalar};
    if (best_isa() >= Isa::Avx2) v.push_back(Isa::Avx2);
    if (best_isa() >= Isa::Avx512) v.push_back(Isa::Avx512);
    return v;
}

void check_model(const std::string& name) {
    const std::string path = std::string(HEARTH_SHARED_DIR) + "/models/" + name;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
    auto file = gguf::File::open(path);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    int checked = 0;
    for (const auto& t : file->tensors()) {
        if (!matmul_supported(t.type) || t.n_dims != 2) continue;
        const int64_t k = t.ne[0], rows = std::min<int64_t>(t.ne[1], 40), n = 5;
        const size_t rb = dtype_row_bytes(t.type, k);
        const uint8_t* w = file->tensor_data(t);
        std::vector<float> x(static_cast<size_t>(n * k));
        for (auto& v : x) v = nd(rng);
        std::vector<uint8_t> aq(quantized_activation_bytes(t.type, k, n));
        quantize_activations(t.type, x.data(), k, k, 0, n, aq.data());
        std::vector<double> ref(static_cast<size_t>(rows * n));
        std::vector<float> wr(static_cast<size_t>(k));
        for (int64_t i = 0; i < rows; ++i) {
            quant::dequantize_row(t.type, w + i * rb, wr.data(), k);
            for (int64_t c = 0; c < n; ++c) {
                double s = 0;
                for (int64_t e = 0; e < k; ++e) s += static_cast<double>(wr[e]) * x[c * k + e];
                ref[c * rows + i] = s;
            }
        }
        for (Isa isa : all_isas()) {
            for (int64_t cols : {int64_t{1}, n}) {  // the row kernel (n=1) and the panel kernel (n=5)
                std::vector<float> out(static_cast<size_t>(rows * cols));
                matmul_quantized_isa(isa, t.type, w, rb, aq.data(), k, cols, 0, rows, out.data(), rows);
                double num = 0, den = 0;
                for (int64_t i = 0; i < rows * cols; ++i) {
                    num += (out[i] - ref[i]) * (out[i] - ref[i]);
                    den += ref[i] * ref[i];
                }
                // Activations scaled per 256 (K-quants, as llama.cpp's Q8_K) err a little more than per 32.
                EXPECT_LT(num / den, k_quant_like(t.type) ? 3e-4 : 1e-4) << name << " " << t.name << " " << dtype_name(t.type) << " "
                                           << isa_name(isa) << " n=" << cols;
            }
        }
        ++checked;
    }
    EXPECT_GT(checked, 0) << name;
}

TEST(KernelsModels, Q8_0) { check_model("tiny-qwen3-bpe-Q8_0.gguf"); }
TEST(KernelsModels, Q4_0) { check_model("tiny-qwen3-bpe-Q4_0.gguf"); }
TEST(KernelsModels, Q4_K_M) { check_model("tiny-qwen3-bpe-Q4_K_M.gguf"); }
TEST(KernelsModels, Q5_K_M) { check_model("tiny-qwen3-bpe-Q5_K_M.gguf"); }
TEST(KernelsModels, IQ4_XS) { check_model("tiny-qwen3-bpe-IQ4_XS.gguf"); }
TEST(KernelsModels, LlamaQ4_K_M) { check_model("tiny-llama-spm-Q4_K_M.gguf"); }

}  // namespace
}  // namespace hearth::cpu
