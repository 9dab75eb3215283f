// Micro-benchmark of the flash-attention op (single thread, one op call through compute_node) over
// an F16 KV cache laid out like the runtime's ([D * n_head_kv, n_ctx], heads as views): a causal
// 512-token prompt over 512 cells and one decoded token over 4096 cells, at the Qwen3-0.6B shape
// (D = 128, 16 query heads over 8 KV heads) and Gemma 3 270M's (D = 256, 4 over 1), per ISA level
// (1 = avx2, 2 = avx512); cold:1 runs evict the caches first (decode as it runs in a model).
//   build-attn/bin/hearth_microbench --benchmark_filter=FlashAttn
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/cpu_ops.h"
#include "core/context.h"
#include "core/mask.h"
#include "core/ops.h"
#include "quant/fp16.h"

namespace {

using namespace hearth;

void fill(Tensor* t, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t n = t->nelements();
    if (t->type == DType::F32) {
        for (int64_t i = 0; i < n; ++i) static_cast<float*>(t->data)[i] = u(rng);
    } else {
        for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(t->data)[i] = fp32_to_fp16(u(rng));
    }
}

// Args: isa level, n_q, n_kv, D, n_head, n_head_kv, cold. Counts 2 * D FLOPs per visible (query head,
// key) pair for Q.K and as many for P.V.
void BM_FlashAttn(benchmark::State& state) {
    const auto isa = static_cast<cpu::Isa>(state.range(0));
    if (static_cast<int>(isa) > static_cast<int>(cpu::best_isa())) {
        state.SkipWithError("ISA level not available");
        return;
    }
    const int64_t nq = state.range(1), nkv = state.range(2), D = state.range(3), nh = state.range(4), nhkv = state.range(5);
    Context ctx;
    std::mt19937 rng(7);
    Tensor* q = ctx.new_tensor(DType::F32, {D, nq, nh}, "q");
    Tensor* kc = ctx.new_tensor(DType::F16, {D * nhkv, nkv}, "k_cache");
    Tensor* vc = ctx.new_tensor(DType::F16, {D * nhkv, nkv}, "v_cache");
    Tensor* mask = ctx.new_tensor(DType::F32, {nkv, nq}, "mask");
    for (Tensor* t : {q, kc, vc, mask}) ctx.alloc_data(t);
    fill(q, rng);
    fill(kc, rng);
    fill(vc, rng);
    Tensor* k = ops::view_3d(ctx, kc, D, nkv, nhkv, kc->nb[1], static_cast<size_t>(D) * 2, 0);  // [D, nkv, nhkv]
    Tensor* v = ops::view_3d(ctx, vc, D, nkv, nhkv, vc->nb[1], static_cast<size_t>(D) * 2, 0);
    std::vector<int32_t> qp, kp;
    for (int64_t i = 0; i < nq; ++i) qp.push_back(static_cast<int32_t>(nkv - nq + i));
    for (int64_t j = 0; j < nkv; ++j) kp.push_back(static_cast<int32_t>(j));
    MaskSpec ms;
    ms.n_kv = nkv;
    ms.n_q = nq;
    ms.q_pos = qp.data();
    ms.kv_pos = kp.data();
    fill_kq_mask(ms, static_cast<float*>(mask->data), nkv);
    Tensor* out = ops::flash_attn(ctx, q, k, v, mask, 0.088f);
    ctx.alloc_data(out);
    const cpu::WorkSize ws = cpu::flash_attn_work_size(*out, 1);
    std::vector<unsigned char> scratch(ws.per_thread + 64);
    cpu::OpCtx c;
    c.isa = isa;
    c.per_thread = scratch.data();
    // cold != 0: the cache is evicted before each call (a 64 MiB sweep, not timed), as in a decode
    // step where the weights streamed since the last layer pushed the KV rows out to DRAM.
    // Read-only, like the weights (no dirty lines to write back).
    std::vector<char> sweep(state.range(6) ? size_t(64) << 20 : 0, 1);
    int64_t sum = 0;
    for (auto _ : state) {
        if (!sweep.empty()) {
            state.PauseTiming();
            for (size_t i = 0; i < sweep.size(); i += 64) sum += sweep[i];
            benchmark::DoNotOptimize(sum);
            state.ResumeTiming();
        }
        cpu::compute_node(*out, c);
        benchmark::ClobberMemory();
    }
    double pairs = 0;  // visible (query, key) pairs per head
    for (int64_t i = 0; i < nq; ++i) pairs += static_cast<double>(nkv - nq + i + 1);
    state.counters["GFLOP/s"] = benchmark::Counter(4.0 * D * pairs * nh * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void fa_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"isa", "nq", "nkv", "D", "nh", "nhkv", "cold"});
    for (const auto& shape : {std::vector<int64_t>{128, 16, 8}, std::vector<int64_t>{256, 4, 1}})
        for (int64_t nq : {512, 1})
            for (int64_t isa : {1, 2}) {
                b->Args({isa, nq, nq == 1 ? 4096 : 512, shape[0], shape[1], shape[2], 0});
                if (nq == 1) {
                    b->Args({isa, 1, 64, shape[0], shape[1], shape[2], 0});  // short context: per-call overhead
                    b->Args({isa, 1, 96, shape[0], shape[1], shape[2], 1});  // tg128's depth, KV rows in DRAM
                }
            }
}

BENCHMARK(BM_FlashAttn)->Apply(fa_args)->Unit(benchmark::kMillisecond);

}  // namespace
