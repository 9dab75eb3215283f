// Micro-benchmark of how decode mul_mat work is dealt to threads: 2 threads run a chain of
// distinct DRAM-resident repacked Q4_0 matrices (1024 x rows each, ~240 MB in all, like a
// decode step's layer weights) with a barrier after each, cutting each matrix into 8 units of
// 16-row tiles. deal:0 hands units out alternately (thread i takes units i, i + 2, ...);
// deal:1 uses next_contiguous (each thread one contiguous range, then the other's leftovers
// from its back), what decode mul_mat does. Reports weight GB/s; compare with
// BM_ReadBandwidth2T run at the same time.
//   build/bin/hearth_microbench --benchmark_filter=DecodeChain
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/repack.h"
#include "backend/cpu/thread_pool.h"
#include "quant/quant.h"

namespace {

using namespace hearth;

void BM_DecodeChain2T(benchmark::State& state) {
    const bool contiguous = state.range(0) != 0;
    const int64_t k = 1024, rows = state.range(1), units = 8;
    const DType t = DType::Q4_0;
    if (!cpu::repacked_kernel_available(cpu::Isa::Avx512) || !cpu::repack_supported(t, rows, k)) {
        state.SkipWithError("no repacked kernel");
        return;
    }
    // One quantized matrix, repacked into as many distinct copies as make ~240 MB.
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> wf(static_cast<size_t>(k * rows));
    for (float& v : wf) v = d(rng);
    const size_t rb = dtype_row_bytes(t, k), packed = (cpu::repacked_bytes(t, rows, k) + 4095) / 4096 * 4096;
    std::vector<uint8_t> wq(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) quant::quantize_row(t, wf.data() + r * k, wq.data() + r * rb, k);
    const int n_mats = static_cast<int>((size_t(240) << 20) / packed);
    std::vector<uint8_t> arena(packed * static_cast<size_t>(n_mats));
    for (int m = 0; m < n_mats; ++m) cpu::repack_weights(t, wq.data(), rb, rows, k, arena.data() + packed * size_t(m));
    std::vector<float> x(static_cast<size_t>(k), 0.25f), out(static_cast<size_t>(rows));
    std::vector<uint8_t> aq(cpu::quantized_activation_bytes(t, k, 1));
    cpu::quantize_activations(t, x.data(), k, k, 0, 1, aq.data());
    const int64_t chunk = (rows / units + 15) / 16 * 16;

    cpu::ThreadPool pool(2);
    std::vector<cpu::UnitSlot> slots(static_cast<size_t>(2 * n_mats));
    for (auto _ : state) {
        for (cpu::UnitSlot& s : slots) s.value.store(0, std::memory_order_relaxed);
        pool.run([&](int ith, int nth) {
            for (int m = 0; m < n_mats; ++m) {
                cpu::OpCtx c;
                c.ith = ith;
                c.nth = nth;
                c.unit_ranges = &slots[size_t(2 * m)];
                c.unit_counter = &slots[size_t(2 * m)].value;
                const uint8_t* w = arena.data() + packed * size_t(m);
                auto run = [&](int64_t u) {
                    const int64_t m0 = u * chunk, m1 = std::min(rows, m0 + chunk);
                    if (m0 < m1) cpu::matmul_repacked(t, w, aq.data(), k, 1, m0, m1, out.data(), rows);
                };
                if (contiguous)
                    for (int64_t u = cpu::next_contiguous(c, units, -1); u >= 0; u = cpu::next_contiguous(c, units, u)) run(u);
                else
                    for (int64_t u = cpu::first_unit(c); u < units; u = cpu::next_unit(c, u)) run(u);
                pool.barrier();
            }
        });
    }
    state.SetLabel(contiguous ? "contiguous ranges" : "alternating units");
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(packed) * n_mats / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_DecodeChain2T)
    ->ArgNames({"deal", "rows"})
    ->Args({0, 1024})
    ->Args({1, 1024})
    ->Args({0, 3072})
    ->Args({1, 3072})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
