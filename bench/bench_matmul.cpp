// Micro-benchmarks of the quantized matmul kernels (single thread): weight GB/s and GFLOP/s per
// weight type at decode (n=1) and prompt (n=512) shapes of Qwen3-0.6B's matrices, plus a
// streaming read-bandwidth probe to express decode speed as a fraction of the memory ceiling.
//   nice build-kern/bin/hearth_microbench --benchmark_filter=Matmul --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "backend/cpu/cpu_simd.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/matmul_float.h"
#include "backend/cpu/repack.h"
#include "quant/fp16.h"

namespace {

using hearth::DType;
namespace cpu = hearth::cpu;

// Byte offsets of the fp16 scale fields in one block (other bytes may hold any pattern).
std::vector<int> f16_fields(DType t) {
    switch (t) {
        case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
        case DType::Q2_K: return {80, 82};
        case DType::Q3_K: return {108};
        case DType::Q6_K: return {208};
        default: return {0};
    }
}

struct AlignedBuf {
    void* p = nullptr;
    size_t size = 0;
    explicit AlignedBuf(size_t n) : size(n) { p = std::aligned_alloc(64, (n + 63) / 64 * 64); }
    ~AlignedBuf() { std::free(p); }
    uint8_t* bytes() { return static_cast<uint8_t*>(p); }
};

// Random weights of `rows` x `k`, cached per (type, rows, k) so repeated benchmarks reuse them.
const AlignedBuf& weights(DType t, int64_t rows, int64_t k) {
    static std::map<std::tuple<int, int64_t, int64_t>, std::unique_ptr<AlignedBuf>> cache;
    auto key = std::make_tuple(static_cast<int>(t), rows, k);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    if (cache.size() > 2) cache.clear();  // keep memory bounded
    const size_t rb = hearth::dtype_row_bytes(t, k);
    auto buf = std::make_unique<AlignedBuf>(rb * rows);
    std::mt19937_64 rng(42);
    uint64_t* w64 = reinterpret_cast<uint64_t*>(buf->bytes());
    for (size_t i = 0; i < rb * rows / 8; ++i) w64[i] = rng();
    const auto& tr = hearth::dtype_traits(t);
    const uint16_t h = hearth::fp32_to_fp16(0.01f);
    for (size_t off = 0; off + tr.block_bytes <= rb * rows; off += tr.block_bytes)
        for (int f : f16_fields(t)) std::memcpy(buf->bytes() + off + f, &h, 2);
    return *cache.emplace(key, std::move(buf)).first->second;
}

const DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q5_0, DType::Q5_K,
                        DType::Q4_1, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::IQ4_NL, DType::IQ4_XS};

// args: type index, k, rows, n, isa
void BM_Matmul(benchmark::State& state) {
    const DType t = kTypes[state.range(0)];
    const int64_t k = state.range(1), rows = state.range(2), n = state.range(3);
    const auto isa = static_cast<cpu::Isa>(state.range(4));
    if (isa > cpu::best_isa()) {
        state.SkipWithError("ISA not available");
        return;
    }
    const AlignedBuf& w = weights(t, rows, k);
    const size_t rb = hearth::dtype_row_bytes(t, k);
    std::vector<float> x(static_cast<size_t>(n * k));
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng);
    AlignedBuf aq(cpu::quantized_activation_bytes(t, k, n));
    cpu::quantize_activations(t, x.data(), k, k, 0, n, aq.p);
    std::vector<float> out(static_cast<size_t>(n * rows));
    for (auto _ : state) {
        cpu::matmul_quantized_isa(isa, t, w.p, rb, aq.p, k, n, 0, rows, out.data(), rows);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(hearth::dtype_name(t)) + " " + cpu::isa_name(isa));
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * k * rows * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rb * rows) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// The same shapes through the repacked-weight kernel (repack.h; rows % 16 == 0) of the given ISA:
// 2 = AVX-512 VNNI, 1 = AVX2.
void BM_MatmulRepacked(benchmark::State& state) {
    const DType t = kTypes[state.range(0)];
    const int64_t k = state.range(1), rows = state.range(2), n = state.range(3);
    const auto isa = static_cast<cpu::Isa>(state.range(4));
    if (!cpu::repacked_kernel_supports(isa, t) || !cpu::repack_supported(t, rows, k)) {
        state.SkipWithError("no repacked kernel");
        return;
    }
    const AlignedBuf& w = weights(t, rows, k);
    const size_t rb = hearth::dtype_row_bytes(t, k);
    AlignedBuf packed(cpu::repacked_bytes(t, rows, k));
    cpu::repack_weights(t, w.p, rb, rows, k, packed.p);
    std::vector<float> x(static_cast<size_t>(n * k));
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng);
    AlignedBuf aq(cpu::quantized_activation_bytes(t, k, n));
    cpu::quantize_activations(t, x.data(), k, k, 0, n, aq.p);
    std::vector<float> out(static_cast<size_t>(n * rows));
    for (auto _ : state) {
        cpu::matmul_repacked_isa(isa, t, packed.p, aq.p, k, n, 0, rows, out.data(), rows);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(hearth::dtype_name(t)) + " repacked " + cpu::isa_name(isa));
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * k * rows * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rb * rows) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void repacked_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"type", "k", "rows", "n", "isa"});
    const int64_t shapes[][2] = {{1024, 1024}, {1024, 3072}, {3072, 1024}, {1024, 151936}};
    for (int ti = 0; ti < 12; ++ti) {
        for (const auto& s : shapes) b->Args({ti, s[0], s[1], 1, 2});
        for (const auto& s : shapes) b->Args({ti, s[0], s[1] > 8192 ? 8192 : s[1], 512, 2});
        for (int64_t n : {2, 4, 8, 16}) b->Args({ti, 1024, 3072, n, 2});
    }
    for (int ti = 0; ti < 12; ++ti) {  // the AVX2 repacked kernel (compare BM_Matmul isa:1)
        for (const auto& s : shapes) b->Args({ti, s[0], s[1], 1, 1});
        for (int64_t n : {2, 4, 8, 16, 64, 512}) b->Args({ti, 1024, 3072, n, 1});
    }
}

// Decode shape on 2 threads (weight rows split in halves), wall-clock: the fraction of the machine's
// 2-thread read bandwidth a decode step can reach. args: type index, k, rows
void BM_Matmul2T(benchmark::State& state) {
    const DType t = kTypes[state.range(0)];
    const int64_t k = state.range(1), rows = state.range(2);
    const AlignedBuf& w = weights(t, rows, k);
    const size_t rb = hearth::dtype_row_bytes(t, k);
    std::vector<float> x(static_cast<size_t>(k), 0.25f), out(static_cast<size_t>(rows));
    AlignedBuf aq(cpu::quantized_activation_bytes(t, k, 1));
    cpu::quantize_activations(t, x.data(), k, k, 0, 1, aq.p);
    const int64_t half = rows / 2 / 16 * 16;
    for (auto _ : state) {
        std::thread th([&] { cpu::matmul_quantized(t, w.p, rb, aq.p, k, 1, half, rows, out.data(), rows); });
        cpu::matmul_quantized(t, w.p, rb, aq.p, k, 1, 0, half, out.data(), rows);
        th.join();
    }
    state.SetLabel(std::string(hearth::dtype_name(t)) + " " + cpu::isa_name(cpu::active_isa()) + " 2 threads");
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rb * rows) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// BM_Matmul2T through the repacked kernel (row halves aligned to the 16-row tiles).
void BM_MatmulRepacked2T(benchmark::State& state) {
    const DType t = kTypes[state.range(0)];
    const int64_t k = state.range(1), rows = state.range(2);
    if (!cpu::repacked_kernel_available(cpu::Isa::Avx512) || !cpu::repack_supported(t, rows, k)) {
        state.SkipWithError("no repacked kernel");
        return;
    }
    const AlignedBuf& w = weights(t, rows, k);
    const size_t rb = hearth::dtype_row_bytes(t, k);
    AlignedBuf packed(cpu::repacked_bytes(t, rows, k));
    cpu::repack_weights(t, w.p, rb, rows, k, packed.p);
    std::vector<float> x(static_cast<size_t>(k), 0.25f), out(static_cast<size_t>(rows));
    AlignedBuf aq(cpu::quantized_activation_bytes(t, k, 1));
    cpu::quantize_activations(t, x.data(), k, k, 0, 1, aq.p);
    const int64_t half = rows / 2 / 16 * 16;
    for (auto _ : state) {
        std::thread th([&] { cpu::matmul_repacked(t, packed.p, aq.p, k, 1, half, rows, out.data(), rows); });
        cpu::matmul_repacked(t, packed.p, aq.p, k, 1, 0, half, out.data(), rows);
        th.join();
    }
    state.SetLabel(std::string(hearth::dtype_name(t)) + " repacked 2 threads");
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rb * rows) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReadBandwidth2T(benchmark::State& state) {
    const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
    AlignedBuf buf(bytes);
    std::memset(buf.p, 1, bytes);
    uint64_t sink = 0;
    for (auto _ : state) {
        uint64_t a = 0;
        std::thread th([&] { a = cpu::stream_read_checksum(buf.bytes() + bytes / 2, bytes / 2); });
        sink += cpu::stream_read_checksum(buf.p, bytes / 2);
        th.join();
        sink += a;
    }
    benchmark::DoNotOptimize(sink);
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ActQuant(benchmark::State& state) {
    const int64_t k = state.range(0), n = state.range(1);
    std::vector<float> x(static_cast<size_t>(n * k), 0.5f);
    AlignedBuf aq(cpu::quantized_activation_bytes(DType::Q4_0, k, n));
    for (auto _ : state) {
        cpu::quantize_activations(DType::Q4_0, x.data(), k, k, 0, n, aq.p);
        benchmark::DoNotOptimize(aq.p);
    }
    state.counters["Melem/s"] = benchmark::Counter(static_cast<double>(n * k) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReadBandwidth(benchmark::State& state) {
    const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
    AlignedBuf buf(bytes);
    std::memset(buf.p, 1, bytes);
    for (auto _ : state) benchmark::DoNotOptimize(cpu::stream_read_checksum(buf.p, bytes));
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void matmul_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"type", "k", "rows", "n", "isa"});
    const int64_t shapes[][2] = {{1024, 1024}, {1024, 3072}, {3072, 1024}, {1024, 151936}};
    for (int ti = 0; ti < 12; ++ti) {
        for (int isa = 2; isa >= 1; --isa) {
            for (const auto& s : shapes) b->Args({ti, s[0], s[1], 1, isa});
            // prompt shape; the vocab matrix is sliced to 8192 rows (same per-row work, shorter run)
            for (const auto& s : shapes) b->Args({ti, s[0], s[1] > 8192 ? 8192 : s[1], 512, isa});
            // small batches (several sequences decoding at once)
            for (int64_t n : {2, 3, 4, 8}) b->Args({ti, 1024, 3072, n, isa});
        }
    }
}

}  // namespace

// Gemma 3 270M (the default model): Q8_0 tied embedding / output 640 x 262144, Q5_0 640 x 2048.
void gemma_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"type", "k", "rows", "n", "isa"});
    for (int isa = 2; isa >= 1; --isa) {
        b->Args({1, 640, 262144, 1, isa});
        b->Args({1, 640, 8192, 512, isa});
        b->Args({4, 640, 2048, 1, isa});
        b->Args({4, 640, 2048, 512, isa});
    }
}

BENCHMARK(BM_Matmul)->Name("BM_MatmulGemma")->Apply(gemma_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul)->Apply(matmul_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatmulRepacked)->Apply(repacked_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Matmul2T)
    ->ArgNames({"type", "k", "rows"})
    ->Args({0, 1024, 151936})
    ->Args({1, 1024, 151936})
    ->Args({2, 1024, 151936})
    ->Args({3, 1024, 151936})
    ->Args({4, 640, 262144})
    ->Args({1, 640, 262144})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MatmulRepacked2T)
    ->ArgNames({"type", "k", "rows"})
    ->Args({0, 1024, 151936})
    ->Args({1, 1024, 151936})
    ->Args({2, 1024, 151936})
    ->Args({3, 1024, 151936})
    ->Args({4, 640, 262144})
    ->Args({1, 640, 262144})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ReadBandwidth2T)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ActQuant)->Args({1024, 1})->Args({1024, 512})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReadBandwidth)->Arg(512)->Unit(benchmark::kMillisecond);
// ---- F32 / F16 / BF16 weights (backend/cpu/matmul_float.h), single thread ----------------------
// args: type (0 F32, 1 F16, 2 BF16), k, rows, n, isa, kernel (1 = register-blocked matmul_float,
// 0 = the former row-at-a-time path: one weight row to F32, then a dot with every activation row).
const DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

void BM_MatmulFloat(benchmark::State& state) {
    const DType t = kFloatTypes[state.range(0)];
    const int64_t k = state.range(1), rows = state.range(2), n = state.range(3);
    const auto isa = static_cast<cpu::Isa>(state.range(4));
    const bool blocked = state.range(5) != 0;
    if (isa > cpu::best_isa()) {
        state.SkipWithError("ISA not available");
        return;
    }
    const size_t rb = hearth::dtype_row_bytes(t, k);
    AlignedBuf w(rb * rows);
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    for (int64_t i = 0; i < rows * k; ++i) {
        const float v = nd(rng);
        if (t == DType::F32) reinterpret_cast<float*>(w.p)[i] = v;
        else if (t == DType::F16) reinterpret_cast<uint16_t*>(w.p)[i] = hearth::fp32_to_fp16(v);
        else reinterpret_cast<uint16_t*>(w.p)[i] = hearth::fp32_to_bf16(v);
    }
    std::vector<float> x(static_cast<size_t>(n * k)), row(static_cast<size_t>(k));
    std::normal_distribution<float> nx;
    for (auto& v : x) v = nx(rng);
    std::vector<float> out(static_cast<size_t>(n * rows));
    for (auto _ : state) {
        if (blocked) {
            cpu::matmul_float_isa(isa, t, w.p, rb, x.data(), k, k, n, 0, rows, out.data(), rows);
        } else {
            for (int64_t i = 0; i < rows; ++i) {
                const float* wr = reinterpret_cast<const float*>(w.bytes() + i * rb);
                if (t == DType::F16) {
                    cpu::f16_to_f32(isa, reinterpret_cast<const uint16_t*>(w.bytes() + i * rb), row.data(), k);
                    wr = row.data();
                } else if (t == DType::BF16) {
                    const uint16_t* h = reinterpret_cast<const uint16_t*>(w.bytes() + i * rb);
                    for (int64_t e = 0; e < k; ++e) row[e] = hearth::bf16_to_fp32(h[e]);
                    wr = row.data();
                }
                for (int64_t j = 0; j < n; ++j) out[j * rows + i] = cpu::dot_f32(isa, wr, x.data() + j * k, k);
            }
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(hearth::dtype_name(t)) + " " + cpu::isa_name(isa) + (blocked ? " blocked" : " rowwise"));
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * k * rows * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void float_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"type", "k", "rows", "n", "isa", "blocked"});
    // MiniLM (384 hidden, 1536 FFN) and a 1024 x 3072 FFN matrix
    const int64_t shapes[][2] = {{384, 384}, {384, 1536}, {1536, 384}, {1024, 3072}};
    for (int ti = 0; ti < 3; ++ti)
        for (int blocked = 1; blocked >= 0; --blocked)
            for (int isa = 2; isa >= 1; --isa)
                for (const auto& s : shapes)
                    for (int64_t n : {1, 8, 64, 512}) b->Args({ti, s[0], s[1], n, isa, blocked});
    // decode through a tied 256 x 50257 F16 output head (the tiny test models): memory-bound n = 1
    for (int blocked = 1; blocked >= 0; --blocked)
        for (int isa = 2; isa >= 1; --isa) b->Args({1, 256, 50257, 1, isa, blocked});
}

BENCHMARK(BM_MatmulFloat)->Apply(float_args)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
