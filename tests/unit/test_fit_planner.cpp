// Tests of the fit planner against simulated devices: -ngl semantics, -ot overrides, --no-kv-offload,
// budgets respected to the byte and monotonic, impossible budgets, and plans of the shared models.
#include <gtest/gtest.h>

#include "backend/placement/placement.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace hearth::placement {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// 8 layers of 10 MiB (attn 4 + ffn 6), token_embd 20 MiB, output 30 MiB + norm 1 MiB; KV rows of
// 256 f16 values for K and V (1 KiB per token per layer).
ModelSummary synthetic(bool tied = false) {
    ModelSummary m;
    m.arch = "test";
    m.n_layer = 8;
    m.n_embd = 256, m.n_vocab = 1000, m.n_ff = 512, m.n_head = 4, m.n_embd_q = 256, m.head_dim_v = 64;
    m.n_embd_k_gqa.assign(8, 256);
    m.n_embd_v_gqa.assign(8, 256);
    m.tensors.push_back({"token_embd.weight", 20 * kMiB, TensorRole::Input, -1});
    for (int il = 0; il < 8; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        m.tensors.push_back({p + "attn_q.weight", 4 * kMiB, TensorRole::Layer, il});
        m.tensors.push_back({p + "ffn_up.weight", 6 * kMiB, TensorRole::Layer, il});
    }
    m.tensors.push_back({"output_norm.weight", 1 * kMiB, TensorRole::Output, -1});
    if (!tied) m.tensors.push_back({"output.weight", 30 * kMiB, TensorRole::Output, -1});
    m.tied_output = tied;
    m.output_matrix_bytes = tied ? 20 * kMiB : 30 * kMiB;
    return m;
}

FitParams params() {
    FitParams p;
    p.n_ctx = 1024;  // KV: 1024 tokens x 1 KiB = 1 MiB per layer
    p.compute_bytes = 16 * kMiB;
    p.context_reserve = 100 * kMiB;
    return p;
}

DeviceInfo gpu(uint64_t free_bytes) { return DeviceInfo{DeviceId{DeviceId::Kind::Cuda, 0}, "simulated", free_bytes, free_bytes}; }

const DeviceUsage& dev_usage(const Plan& p) { return p.devices.back(); }

TEST(FitPlanner, NglOffloadsTheLastLayers) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    const DeviceInfo d = gpu(80ull << 30);
    p.n_gpu_layers = 3;
    Plan plan = plan_placement(m, p, &d);
    EXPECT_EQ(plan.n_gpu_layers, 3);
    EXPECT_FALSE(plan.output_offloaded);
    for (size_t i = 0; i < m.tensors.size(); ++i) {
        const bool want_gpu = m.tensors[i].role == TensorRole::Layer && m.tensors[i].layer >= 5;
        EXPECT_EQ(plan.tensor_device[i], want_gpu ? "cuda0" : "cpu") << m.tensors[i].name;
    }
    for (int il = 0; il < 8; ++il) EXPECT_EQ(plan.layer_device[size_t(il)], il >= 5 ? "cuda0" : "cpu");
    EXPECT_EQ(dev_usage(plan).weights, 30 * kMiB);
    EXPECT_EQ(dev_usage(plan).kv_cache, 3 * kMiB);
    EXPECT_EQ(dev_usage(plan).compute, 16 * kMiB);
    EXPECT_EQ(dev_usage(plan).reserve, 100 * kMiB);
    EXPECT_EQ(plan.devices[0].weights, 20 * kMiB + 50 * kMiB + 31 * kMiB);
    EXPECT_EQ(plan.devices[0].kv_cache, 5 * kMiB);

    p.n_gpu_layers = 8;  // every repeating layer, not the output
    plan = plan_placement(m, p, &d);
    EXPECT_FALSE(plan.output_offloaded);
    EXPECT_EQ(dev_usage(plan).weights, 80 * kMiB);
    p.n_gpu_layers = 9;  // n_layer + 1: the output layer too
    plan = plan_placement(m, p, &d);
    EXPECT_TRUE(plan.output_offloaded);
    EXPECT_EQ(dev_usage(plan).weights, 111 * kMiB);
    EXPECT_EQ(plan.devices[0].weights, 20 * kMiB);  // token_embd stays on the host
    p.n_gpu_layers = 999;  // clamped
    EXPECT_EQ(dev_usage(plan_placement(m, p, &d)).weights, 111 * kMiB);

    p.n_gpu_layers = 0;  // nothing offloaded: the device is not used at all
    plan = plan_placement(m, p, &d);
    EXPECT_EQ(dev_usage(plan).total(), 0u);
}

TEST(FitPlanner, TiedOutputCopiesTheEmbeddingsToTheDevice) {
    const ModelSummary m = synthetic(true);
    FitParams p = params();
    const DeviceInfo d = gpu(80ull << 30);
    p.n_gpu_layers = 9;
    const Plan plan = plan_placement(m, p, &d);
    EXPECT_EQ(dev_usage(plan).weights, 80 * kMiB + 1 * kMiB + 20 * kMiB);
    EXPECT_EQ(plan.devices[0].weights, 20 * kMiB);
}

TEST(FitPlanner, NoKvOffloadKeepsTheCacheOnTheHost) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    p.kv_offload = false;
    p.n_gpu_layers = 9;
    const DeviceInfo d = gpu(80ull << 30);
    const Plan plan = plan_placement(m, p, &d);
    EXPECT_EQ(dev_usage(plan).kv_cache, 0u);
    EXPECT_EQ(plan.devices[0].kv_cache, 8 * kMiB);
    for (const std::string& dev : plan.layer_device) EXPECT_EQ(dev, "cpu");
    EXPECT_EQ(dev_usage(plan).weights, 111 * kMiB);
}

TEST(FitPlanner, OverridesWinOverNgl) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    p.overrides = parse_overrides("ffn_up=CPU");
    p.n_gpu_layers = 9;
    const DeviceInfo d = gpu(80ull << 30);
    Plan plan = plan_placement(m, p, &d);
    for (size_t i = 0; i < m.tensors.size(); ++i)
        if (m.tensors[i].name.find("ffn_up") != std::string::npos) EXPECT_EQ(plan.tensor_device[i], "cpu");
    EXPECT_EQ(dev_usage(plan).weights, 8 * 4 * kMiB + 31 * kMiB);

    // An override to the device with -ngl 0: only that tensor goes, and the device is in use.
    p.overrides = parse_overrides("^output\\.weight$=cuda0");
    p.n_gpu_layers = 0;
    plan = plan_placement(m, p, &d);
    EXPECT_EQ(dev_usage(plan).weights, 30 * kMiB);
    EXPECT_EQ(dev_usage(plan).reserve, 100 * kMiB);
    // ... and a device that is not the one in use is an error.
    p.overrides = parse_overrides("output=cuda1");
    EXPECT_THROW(plan_placement(m, p, &d), Error);
    EXPECT_THROW(plan_placement(m, p, nullptr), Error);
}

TEST(FitPlanner, BudgetIsRespectedToTheByte) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    const DeviceInfo d = gpu(80ull << 30);
    // Fixed part 116 MiB; each layer 10 MiB weights + 1 MiB KV; the output layer 31 MiB.
    for (int k = 0; k <= 8; ++k) {
        const uint64_t exact = 116 * kMiB + uint64_t(k) * 11 * kMiB;
        p.vram_budget = exact;
        Plan plan = plan_placement(m, p, &d);
        EXPECT_EQ(plan.n_gpu_layers, k) << "budget " << exact;
        if (k > 0) EXPECT_EQ(dev_usage(plan).total(), exact);
        p.vram_budget = exact - 1;
        if (k > 0) EXPECT_EQ(plan_placement(m, p, &d).n_gpu_layers, k - 1) << "budget " << exact - 1;
    }
    p.vram_budget = 116 * kMiB + 88 * kMiB + 31 * kMiB;
    Plan plan = plan_placement(m, p, &d);
    EXPECT_TRUE(plan.output_offloaded);
    EXPECT_EQ(dev_usage(plan).total(), *p.vram_budget);
    // An explicit -ngl caps what a budget offloads.
    p.n_gpu_layers = 2;
    EXPECT_EQ(plan_placement(m, p, &d).n_gpu_layers, 2);
}

TEST(FitPlanner, BiggerBudgetNeverOffloadsLess) {
    for (bool kv : {true, false}) {
        const ModelSummary m = synthetic();
        FitParams p = params();
        p.kv_offload = kv;
        const DeviceInfo d = gpu(80ull << 30);
        int64_t prev_layers = -1;
        uint64_t prev_total = 0;
        for (uint64_t b = 116 * kMiB; b <= 300 * kMiB; b += 512 * 1024 + 7) {
            p.vram_budget = b;
            const Plan plan = plan_placement(m, p, &d);
            const int64_t layers = plan.n_gpu_layers + (plan.output_offloaded ? 1 : 0);
            EXPECT_LE(dev_usage(plan).total(), b);
            EXPECT_GE(layers, prev_layers) << "budget " << b;
            EXPECT_GE(dev_usage(plan).total(), prev_total) << "budget " << b;
            prev_layers = layers;
            prev_total = dev_usage(plan).total();
        }
        EXPECT_EQ(prev_layers, 9);
    }
}

TEST(FitPlanner, ImpossibleBudgetSaysWhatIsNeeded) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    const DeviceInfo d = gpu(80ull << 30);
    p.vram_budget = 100 * kMiB;
    try {
        plan_placement(m, p, &d);
        FAIL() << "a 100 MiB budget was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::OutOfMemory);
        EXPECT_NE(std::string(e.what()).find("the budget 100.0 MiB is below the 116.0 MiB"), std::string::npos)
            << e.what();
    }
    p.vram_budget = 116 * kMiB;  // exactly the fixed part: nothing offloaded, but not an error
    EXPECT_EQ(plan_placement(m, p, &d).n_gpu_layers, 0);
}

TEST(FitPlanner, DefaultBudgetIsTheFreeMemory) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    const DeviceInfo small = gpu(116 * kMiB + 33 * kMiB);  // 3 layers (33 MiB)
    Plan plan = plan_placement(m, p, &small);
    EXPECT_EQ(plan.n_gpu_layers, 3);
    EXPECT_TRUE(plan.fits);
    // An explicit -ngl that needs more than is free is planned but flagged.
    p.n_gpu_layers = 9;
    plan = plan_placement(m, p, &small);
    EXPECT_FALSE(plan.fits);
    EXPECT_NE(plan.note.find("only"), std::string::npos) << plan.note;
    // A budget above the free memory: planned under the budget, flagged as not fitting.
    p.n_gpu_layers.reset();
    p.vram_budget = 1ull << 30;
    plan = plan_placement(m, p, &small);
    EXPECT_EQ(plan.n_gpu_layers, 8);
    EXPECT_FALSE(plan.fits);
}

TEST(FitPlanner, HostOnlyRejectsOffloadRequests) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    Plan plan = plan_placement(m, p, nullptr);
    ASSERT_EQ(plan.devices.size(), 1u);
    EXPECT_EQ(plan.devices[0].weights, 131 * kMiB);
    EXPECT_EQ(plan.devices[0].kv_cache, 8 * kMiB);
    p.n_gpu_layers = 0;
    EXPECT_NO_THROW(plan_placement(m, p, nullptr));
    p.n_gpu_layers = 1;
    EXPECT_THROW(plan_placement(m, p, nullptr), Error);
    p.n_gpu_layers.reset();
    p.vram_budget = 1ull << 30;
    EXPECT_THROW(plan_placement(m, p, nullptr), Error);
    p.vram_budget.reset();
    p.n_gpu_layers = -2;
    EXPECT_THROW(plan_placement(m, p, nullptr), Error);
}

TEST(FitPlanner, QuantizedKvShrinksTheDeviceTotal) {
    const ModelSummary m = synthetic();
    FitParams p = params();
    p.n_gpu_layers = 8;
    const DeviceInfo d = gpu(80ull << 30);
    const uint64_t f16 = dev_usage(plan_placement(m, p, &d)).kv_cache;
    p.type_k = p.type_v = DType::Q8_0;
    const uint64_t q8 = dev_usage(plan_placement(m, p, &d)).kv_cache;
    p.type_k = p.type_v = DType::Q4_0;
    const uint64_t q4 = dev_usage(plan_placement(m, p, &d)).kv_cache;
    EXPECT_EQ(f16, 8 * 1024 * 1024u);
    EXPECT_EQ(q8, 8ull * 1024 * (2 * 8 * 34));  // 256 values = 8 blocks of 34 bytes, K and V
    EXPECT_EQ(q4, 8ull * 1024 * (2 * 8 * 18));
}

TEST(FitPlanner, SharedModelPlansAddUp) {
    const std::string path = std::string(HEARTH_SHARED_DIR) + "/models/tiny-llama-spm-Q4_K_M.gguf";
    const auto f = gguf::File::open(path);
    const ModelSummary m = read_model_summary(*f);
    uint64_t total = 0;
    for (const TensorEntry& t : m.tensors) total += t.bytes;
    FitParams p;
    p.n_ctx = 2048;
    const DeviceInfo d = gpu(1ull << 30);
    for (int64_t ngl = 0; ngl <= 5; ++ngl) {
        p.n_gpu_layers = ngl;
        const Plan plan = plan_placement(m, p, &d);
        EXPECT_EQ(plan.devices[0].weights + dev_usage(plan).weights, total) << ngl;
        EXPECT_EQ(plan.devices[0].kv_cache + dev_usage(plan).kv_cache, 4ull * 2048 * (128 * 2 * 2)) << ngl;
    }
    // Estimated compute is positive and grows with the context when flash attention is off.
    EXPECT_GT(estimate_compute_bytes(m, 4096, 512, 1, true, false), estimate_compute_bytes(m, 512, 512, 1, true, false));
}

}  // namespace
}  // namespace hearth::placement
