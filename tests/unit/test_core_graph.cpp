// Tests of the graph layer: Context pooling, op builders' shape rules and errors, views, graph
// ordering, the DOT dump, the attention-mask filler and the liveness memory planner.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/error.h"
#include "core/graph.h"
#include "core/mask.h"
#include "core/ops.h"
#include "core/planner.h"
#include "test_core_util.h"

using namespace hearth;

TEST(CoreContext, FreshTensorStridesAndShape) {
    Context ctx;
    Tensor* t = ctx.new_tensor(DType::F32, {5, 3, 2}, "t");
    EXPECT_EQ(t->ne[0], 5);
    EXPECT_EQ(t->ne[3], 1);
    EXPECT_EQ(t->nb[0], 4u);
    EXPECT_EQ(t->nb[1], 20u);
    EXPECT_EQ(t->nb[2], 60u);
    EXPECT_EQ(t->nbytes(), 120u);
    EXPECT_TRUE(t->is_contiguous());
    EXPECT_STREQ(t->name, "t");
    Tensor* q = ctx.new_tensor(DType::Q4_K, {512, 3});
    EXPECT_EQ(q->nb[1], 2u * 144u);
    EXPECT_EQ(q->nbytes(), 3u * 2u * 144u);
}

TEST(CoreContext, RejectsBadShapes) {
    Context ctx;
    EXPECT_THROW(ctx.new_tensor(DType::F32, {1, 2, 3, 4, 5}), Error);
    EXPECT_THROW(ctx.new_tensor(DType::F32, {-1}), Error);
    try {
        ctx.new_tensor(DType::Q4_0, {33}, "w");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("block size 32"), std::string::npos);
    }
}

TEST(CoreContext, ResetReusesStorage) {
    Context ctx;
    std::vector<Tensor*> first;
    for (int i = 0; i < 1000; ++i) first.push_back(ctx.new_tensor(DType::F32, {4}));
    ctx.reset();
    EXPECT_EQ(ctx.n_tensors(), 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(ctx.new_tensor(DType::F32, {8}), first[i]);
}

TEST(CoreOps, BuilderShapeErrorsNameTheOp) {
    Context ctx;
    Tensor* w = ctx.new_tensor(DType::F16, {64, 10}, "w");
    Tensor* x = ctx.new_tensor(DType::F32, {32, 3}, "x");
    try {
        ops::mul_mat(ctx, w, x);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("mul_mat"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos);
    }
    Tensor* a = ctx.new_tensor(DType::F32, {6, 4});
    EXPECT_THROW(ops::add(ctx, a, ctx.new_tensor(DType::F32, {4})), Error);
    EXPECT_THROW(ops::swiglu(ctx, a, ctx.new_tensor(DType::F32, {6, 3})), Error);
    EXPECT_THROW(ops::concat(ctx, a, ctx.new_tensor(DType::F32, {5, 3}), 0), Error);
    EXPECT_THROW(ops::rope(ctx, ctx.new_tensor(DType::F32, {64, 2, 3}), ctx.new_tensor(DType::I32, {2}), {}), Error);
    ops::RopeParams odd;
    odd.n_dims = 63;
    EXPECT_THROW(ops::rope(ctx, ctx.new_tensor(DType::F32, {64, 2, 3}), ctx.new_tensor(DType::I32, {3}), odd), Error);
    Tensor* q = ctx.new_tensor(DType::F32, {64, 1, 6});
    Tensor* k = ctx.new_tensor(DType::F16, {64, 10, 4});
    EXPECT_THROW(ops::flash_attn(ctx, q, k, k, nullptr, 1.0f), Error);  // 6 heads over 4 KV heads
    EXPECT_THROW(ops::get_rows(ctx, w, ctx.new_tensor(DType::F32, {2})), Error);
    EXPECT_THROW(ops::soft_max(ctx, ctx.new_tensor(DType::F32, {10, 4}), ctx.new_tensor(DType::F32, {9, 4}), 1.0f), Error);
}

TEST(CoreOps, ViewsShareMemoryAndCheckBounds) {
    Context ctx;
    Tensor* a = ctx.new_tensor(DType::F32, {8, 6}, "a");
    ctx.alloc_data(a);
    Tensor* v = ops::view_2d(ctx, a, 4, 3, a->nb[1], 2 * a->nb[1] + 8);
    EXPECT_EQ(v->view_src, a);
    EXPECT_EQ(v->data, static_cast<char*>(a->data) + 2 * 32 + 8);
    Tensor* vv = ops::view_1d(ctx, v, 2, 4);  // a view of a view points at the root
    EXPECT_EQ(vv->view_src, a);
    EXPECT_EQ(vv->view_offset, 2u * 32u + 8u + 4u);
    EXPECT_THROW(ops::view_2d(ctx, a, 8, 7, a->nb[1], 0), Error);
    EXPECT_THROW(ops::view_1d(ctx, a, 8, 41 * 4), Error);

    Tensor* t = ops::transpose(ctx, a);
    EXPECT_EQ(t->ne[0], 6);
    EXPECT_EQ(t->ne[1], 8);
    EXPECT_EQ(t->nb[0], 32u);
    EXPECT_EQ(t->nb[1], 4u);
    EXPECT_FALSE(t->is_contiguous());
    EXPECT_THROW(ops::reshape(ctx, t, {48}), Error);  // not contiguous
    Tensor* r = ops::reshape(ctx, a, {4, 2, 6});
    EXPECT_EQ(r->ne[2], 6);
    EXPECT_THROW(ops::reshape(ctx, a, {5, 10}), Error);

    Tensor* p = ops::permute(ctx, ctx.new_tensor(DType::F32, {64, 4, 7}), 0, 2, 1, 3);  // [64, 7, 4]
    EXPECT_EQ(p->ne[1], 7);
    EXPECT_EQ(p->ne[2], 4);
    EXPECT_EQ(p->nb[1], 64u * 4u * 4u);
    EXPECT_THROW(ops::permute(ctx, a, 0, 0, 1, 2), Error);
}

TEST(CoreGraph, TopologicalOrderLeavesAndExpandOrder) {
    Context ctx;
    Tensor* x = ctx.new_tensor(DType::F32, {8, 2}, "x");
    Tensor* w = ctx.new_tensor(DType::F32, {8}, "w");
    Tensor* cache = ctx.new_tensor(DType::F16, {8, 10}, "cache");
    Tensor* n = ops::rms_norm(ctx, x, 1e-6f)->set_name("norm");
    Tensor* m = ops::mul(ctx, n, w)->set_name("scaled");
    Tensor* store = ops::cpy(ctx, m, ops::view_2d(ctx, cache, 8, 2, cache->nb[1], 0))->set_name("store");
    Tensor* y = ops::add(ctx, m, n)->set_name("y");
    Graph g;
    g.expand(store);  // cache writes first, as the runtime does
    g.expand(y);
    g.expand(y);      // no duplicates
    ASSERT_EQ(g.leafs().size(), 3u);
    auto pos = [&](const Tensor* t) {
        for (size_t i = 0; i < g.size(); ++i)
            if (g.node(i) == t) return static_cast<int>(i);
        return -1;
    };
    EXPECT_LT(pos(n), pos(m));
    EXPECT_LT(pos(m), pos(store));
    EXPECT_LT(pos(store), pos(y));
    EXPECT_EQ(g.back(), y);
    EXPECT_EQ(g.find("scaled"), m);
    EXPECT_EQ(g.find("cache"), cache);
    EXPECT_EQ(g.find("nope"), nullptr);
    EXPECT_EQ(store->view_src, cache);  // cpy aliases the cache
}

TEST(CoreGraph, DotDump) {
    Context ctx;
    Tensor* x = ctx.new_tensor(DType::F32, {8, 2}, "inp\"embd");
    x->flags |= kFlagInput;
    Tensor* y = ops::silu(ctx, x)->format_name("blk.%d.ffn_act", 3);
    Graph g;
    g.expand(y);
    const std::string path = testing::TempDir() + "/hearth_graph.dot";
    dump_dot(g, path);
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string dot = ss.str();
    EXPECT_EQ(dot.rfind("digraph hearth {", 0), 0u);
    EXPECT_NE(dot.find("blk.3.ffn_act\\nsilu f32 [8,2,1,1]"), std::string::npos);
    EXPECT_NE(dot.find("inp\\\"embd"), std::string::npos);
    EXPECT_NE(dot.find("->"), std::string::npos);
    try {
        dump_dot(g, "/nonexistent-dir/x.dot");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
    }
}

TEST(CoreMask, CausalWindowSequencesAndEmptyCells) {
    const int32_t q_pos[] = {3, 4};
    const int32_t kv_pos[] = {0, 1, 2, 3, 4, -1};
    const int32_t q_seq[] = {0, 1};
    const int32_t kv_seq[] = {0, 0, 0, 0, 1, 0};
    MaskSpec s;
    s.n_kv = 6;
    s.n_q = 2;
    s.q_pos = q_pos;
    s.kv_pos = kv_pos;
    std::vector<float> m(2 * 8);
    fill_kq_mask(s, m.data(), 8);
    const float I = -INFINITY;
    EXPECT_EQ(std::vector<float>(m.begin(), m.begin() + 8), (std::vector<float>{0, 0, 0, 0, I, I, I, I}));
    EXPECT_EQ(std::vector<float>(m.begin() + 8, m.end()), (std::vector<float>{0, 0, 0, 0, 0, I, I, I}));
    s.window = 2;
    fill_kq_mask(s, m.data(), 8);
    EXPECT_EQ(std::vector<float>(m.begin(), m.begin() + 6), (std::vector<float>{I, I, 0, 0, I, I}));
    s.window = 0;
    s.q_seq = q_seq;
    s.kv_seq = kv_seq;
    fill_kq_mask(s, m.data(), 8);
    EXPECT_EQ(std::vector<float>(m.begin() + 8, m.begin() + 14), (std::vector<float>{I, I, I, I, 0, I}));
}

namespace {

// A chain of n element-wise ops on [width, rows] plus a residual link: with reuse, only a few
// buffers are live at once.
Tensor* build_chain(Context& ctx, int n, int64_t width, int64_t rows) {
    Tensor* x = ctx.new_tensor(DType::F32, {width, rows}, "x");
    x->flags |= kFlagInput;
    Tensor* cur = x;
    Tensor* skip = nullptr;
    for (int i = 0; i < n; ++i) {
        cur = ops::silu(ctx, cur)->format_name("act.%d", i);
        if (i == n / 2) skip = cur;
    }
    Tensor* out = ops::add(ctx, cur, skip)->set_name("out");
    out->flags |= kFlagOutput;
    return out;
}

}  // namespace

TEST(CorePlanner, ReusesMemoryAndNeverOverlapsLiveTensors) {
    Context ctx;
    Tensor* out = build_chain(ctx, 20, 1000, 3);
    Graph g;
    g.expand(out);
    MemoryPlanner planner;
    const PlanStats st = planner.plan(g);
    const size_t one = 1000 * 3 * 4;
    EXPECT_EQ(st.n_planned, 22u);  // input + 20 activations + out
    EXPECT_GE(st.naive_bytes, 22 * one);
    // input, skip, out, two in flight and the few released ones held back for barrier-free chains
    EXPECT_LE(st.arena_bytes, 10 * one);
    EXPECT_LT(st.arena_bytes * 2, st.naive_bytes);
    EXPECT_TRUE(st.arena_grew);
    ASSERT_NE(g.leafs()[0]->data, nullptr);  // the input got memory

    // Liveness check: a tensor's bytes are not handed to another tensor before its last reader.
    std::vector<Tensor*> all = g.leafs();
    all.insert(all.end(), g.nodes().begin(), g.nodes().end());
    auto birth = [&](const Tensor* t) {
        for (size_t i = 0; i < g.size(); ++i)
            if (g.node(i) == t) return static_cast<int>(i);
        return -1;  // leaf
    };
    auto death = [&](const Tensor* t) {
        if (t->flags & kFlagOutput) return 1 << 30;
        int d = birth(t);
        for (size_t i = 0; i < g.size(); ++i)
            for (Tensor* s : g.node(i)->src)
                if (s == t) d = static_cast<int>(i);
        return d;
    };
    for (size_t i = 0; i < all.size(); ++i)
        for (size_t j = i + 1; j < all.size(); ++j) {
            const Tensor* a = all[i];
            const Tensor* b = all[j];
            const bool live_together = !(death(a) < birth(b) || death(b) < birth(a));
            if (!live_together) continue;
            const char* a0 = static_cast<const char*>(a->data);
            const char* b0 = static_cast<const char*>(b->data);
            const bool overlap = a0 < b0 + b->nbytes() && b0 < a0 + a->nbytes();
            EXPECT_FALSE(overlap) << a->name << " and " << b->name;
        }
}

TEST(CorePlanner, SameShapeGraphAllocatesNothingAfterWarmup) {
    Context ctx;
    MemoryPlanner planner;
    Graph g;
    size_t allocs_after_warmup = 0;
    void* base = nullptr;
    for (int step = 0; step < 5; ++step) {
        ctx.reset();
        g.clear();
        g.expand(build_chain(ctx, 8, 640, 1));
        const PlanStats st = planner.plan(g);
        if (step == 0) {
            allocs_after_warmup = planner.n_arena_allocations();
            base = planner.arena_base();
        } else {
            EXPECT_FALSE(st.arena_grew);
        }
    }
    EXPECT_EQ(planner.n_arena_allocations(), allocs_after_warmup);
    EXPECT_EQ(planner.arena_base(), base);
    // A smaller graph fits in the same arena too; a bigger one grows it once.
    ctx.reset();
    g.clear();
    g.expand(build_chain(ctx, 8, 100, 1));
    EXPECT_FALSE(planner.plan(g).arena_grew);
    ctx.reset();
    g.clear();
    g.expand(build_chain(ctx, 8, 640, 7));
    EXPECT_TRUE(planner.plan(g).arena_grew);
}

TEST(CorePlanner, ViewsAndExistingDataAreNotPlanned) {
    Context ctx;
    Tensor* cache = ctx.new_tensor(DType::F32, {16, 4}, "cache");
    ctx.alloc_data(cache);
    Tensor* x = ctx.new_tensor(DType::F32, {16, 2}, "x");
    x->flags |= kFlagInput;
    Tensor* a = ops::scale(ctx, x, 2.0f);
    Tensor* st = ops::cpy(ctx, a, ops::view_2d(ctx, cache, 16, 2, cache->nb[1], 2 * cache->nb[1]));
    Tensor* r = ops::reshape(ctx, a, {32});
    Tensor* out = ops::silu(ctx, r);
    out->flags |= kFlagOutput;
    Graph g;
    g.expand(st);
    g.expand(out);
    MemoryPlanner planner;
    const PlanStats s = planner.plan(g);
    EXPECT_EQ(s.n_planned, 3u);  // x, a, out
    EXPECT_EQ(st->data, static_cast<char*>(cache->data) + 2 * cache->nb[1]);
    EXPECT_EQ(r->data, a->data);
}
