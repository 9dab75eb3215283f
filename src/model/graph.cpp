// Shared transformer blocks: embedding lookup, RMS norms, self-attention over the paged KV cache
// (flash attention on cache views), gated FFNs and the output head, each intermediate named.
#include "model/graph.h"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/hadamard.h"
#include "runtime/kv_cache.h"

namespace hearth {

GraphBuilder::GraphBuilder(Context& c, Graph& gr, const HParams& h, const ModelWeights& wt, const ArchSpec& s,
                           const KvCache& k, const GraphInputs& i)
    : ctx(c), graph(gr), hp(h), w(wt), spec(s), kv(k), in(i) {
    inp_tokens = ctx.new_tensor(DType::I32, {in.n_tokens}, "inp_tokens");
    inp_pos = ctx.new_tensor(DType::I32, {in.n_tokens}, "inp_pos");
    inp_mask = ctx.new_tensor(DType::F32, {in.n_kv, in.n_tokens}, "inp_mask");
    inp_mask_swa = hp.n_swa > 0 ? ctx.new_tensor(DType::F32, {in.n_kv, in.n_tokens}, "inp_mask_swa") : nullptr;
    inp_out_ids = ctx.new_tensor(DType::I32, {in.n_outputs}, "inp_out_ids");
    if (w.tok_types) inp_types = ctx.new_tensor(DType::I32, {in.n_tokens}, "inp_types");
    for (Tensor* t : {inp_tokens, inp_pos, inp_mask, inp_mask_swa, inp_out_ids, inp_types})
        if (t) t->flags |= kFlagInput;
}

Tensor* GraphBuilder::cb(Tensor* t, const char* name, int il) {
    t->set_name(name);
    if (il >= 0) {  // "<name>-<il>", formatted by hand (every node of every decode step gets one)
        char digits[16];
        const auto r = std::to_chars(digits, digits + sizeof digits, il);
        size_t len = std::strlen(t->name);
        const size_t n_digits = static_cast<size_t>(r.ptr - digits);
        if (len + 1 + n_digits < sizeof t->name) {
            t->name[len++] = '-';
            std::memcpy(t->name + len, digits, n_digits);
            t->name[len + n_digits] = '\0';
        } else {
            t->format_name("%s-%d", name, il);  // (truncates like before)
        }
    }
    return t;
}

Tensor* GraphBuilder::weight(const TensorRef& r) {
    HEARTH_ASSERT(r.data != nullptr);
    Tensor* t = ctx.new_tensor(r.type, {r.ne[0], r.ne[1], r.ne[2], r.ne[3]}, r.name);
    t->data = const_cast<uint8_t*>(r.data);  // read-only mapping; weights are never written
    t->flags |= kFlagWeight;
    return t;
}

Tensor* GraphBuilder::embed() {
    Tensor* x = cb(ops::get_rows(ctx, weight(w.tok_embd), inp_tokens), "inp_embd", -1);  // [n_embd, n_tokens]
    if (hp.embd_scale != 1.0f) x = cb(ops::scale(ctx, x, hp.embd_scale), "inp_scaled", -1);
    return x;
}

Tensor* GraphBuilder::norm(Tensor* x, const TensorRef& wt, const char* name, int il) {
    Tensor* n = ops::rms_norm(ctx, x, hp.norm_eps);
    return cb(ops::mul(ctx, n, weight(wt)), name, il);
}

Tensor* GraphBuilder::add(Tensor* a, Tensor* b, const char* name, int il) { return cb(ops::add(ctx, a, b), name, il); }

Tensor* GraphBuilder::rotate_heads(Tensor* x, int64_t hd, uint64_t seed, bool inverse) {
    // The rotation as an F32 mul_mat weight [hd, hd] (row i = weights of output i) over every head
    // of every token at once: x [hd, n_heads, T] (contiguous) -> [hd, n*T] -> H x -> [hd, n_heads, T].
    Tensor* h = ctx.new_tensor(DType::F32, {hd, hd}, inverse ? "hadamard_inv" : "hadamard");
    h->data = const_cast<float*>(hadamard_matrix(hd, seed, inverse));  // process-lifetime, read-only
    h->flags |= kFlagWeight;
    const int64_t n1 = x->ne[1], n2 = x->ne[2];
    Tensor* y = ops::mul_mat(ctx, h, ops::reshape(ctx, x, {hd, n1 * n2}));
    return ops::reshape(ctx, y, {hd, n1, n2});
}

Tensor* GraphBuilder::attention(Tensor* x, int il) {
    const LayerWeights& L = w.layers[size_t(il)];
    const int64_t T = in.n_tokens, hd_k = hp.head_dim_k, hd_v = hp.head_dim_v;

    // Projections: [n_embd, T] -> q [hd_k*n_head, T], k [hd_k*n_head_kv, T], v [hd_v*n_head_kv, T].
    Tensor* q = cb(ops::mul_mat(ctx, weight(L.wq), x), "Qcur", il);
    Tensor* k = cb(ops::mul_mat(ctx, weight(L.wk), x), "Kcur", il);
    Tensor* v = cb(ops::mul_mat(ctx, weight(L.wv), x), "Vcur", il);
    // The three projections first, back to back: they read the same input, and the CPU backend
    // runs independent nodes without a barrier between them.
    for (Tensor* t : {q, k, v}) graph.expand(t);
    if (L.bq) q = cb(ops::add(ctx, q, weight(L.bq)), "Qcur_b", il);
    if (L.bk) k = cb(ops::add(ctx, k, weight(L.bk)), "Kcur_b", il);
    if (L.bv) v = cb(ops::add(ctx, v, weight(L.bv)), "Vcur_b", il);

    // Per-head views: [hd, n_head, T].
    q = ops::reshape(ctx, q, {hd_k, hp.n_head, T});
    k = ops::reshape(ctx, k, {hd_k, hp.n_head_kv, T});
    v = ops::reshape(ctx, v, {hd_v, hp.n_head_kv, T});
    if (L.q_norm) q = norm(q, L.q_norm, "Qcur_normed", il);
    if (L.k_norm) k = norm(k, L.k_norm, "Kcur_normed", il);

    if (spec.rope != RopeKind::None) {  // bert adds absolute positions to the embeddings instead
        const ops::RopeParams rp = layer_rope_params(hp, spec, il);
        q = cb(ops::rope(ctx, q, inp_pos, rp), "Qcur_rope", il);
        k = cb(ops::rope(ctx, k, inp_pos, rp), "Kcur_rope", il);
    }

    // Hadamard rotations (-khad / -vhad), per head over head_dim after RoPE: the cache then holds
    // H_K·k and H_V·v; q gets H_K too so q·k is unchanged, and the output is rotated back by H_V^T.
    if (kv.k_hadamard()) {
        q = cb(rotate_heads(q, hd_k, KvCache::kHadamardSeedK, false), "Qcur_had", il);
        k = cb(rotate_heads(k, hd_k, KvCache::kHadamardSeedK, false), "Kcur_had", il);
    }
    if (kv.v_hadamard()) v = cb(rotate_heads(v, hd_v, KvCache::kHadamardSeedV, false), "Vcur_had", il);

    // KV cache of this layer: [n_embd_k_gqa, n_cells] / [n_embd_v_gqa, n_cells] rows, one row per cell.
    Tensor* k_cache = ctx.new_tensor(kv.type_k(), {hp.n_embd_k_gqa(), kv.n_cells()});
    Tensor* v_cache = ctx.new_tensor(kv.type_v(), {hp.n_embd_v_gqa(), kv.n_cells()});
    k_cache->format_name("cache_k-%d", il);
    v_cache->format_name("cache_v-%d", il);
    k_cache->data = kv.k_data(il);
    v_cache->data = kv.v_data(il);

    // Store the new rows: each run of consecutive cells gets one copy; expanded before attention reads.
    Tensor* k_rows = ops::reshape(ctx, k, {hp.n_embd_k_gqa(), T});
    Tensor* v_rows = ops::reshape(ctx, v, {hp.n_embd_v_gqa(), T});
    for (const KvRun& r : in.kv_runs) {
        Tensor* ks = ops::view_2d(ctx, k_rows, hp.n_embd_k_gqa(), r.n, k_rows->nb[1], size_t(r.token0) * k_rows->nb[1]);
        Tensor* vs = ops::view_2d(ctx, v_rows, hp.n_embd_v_gqa(), r.n, v_rows->nb[1], size_t(r.token0) * v_rows->nb[1]);
        Tensor* kd = ops::view_2d(ctx, k_cache, hp.n_embd_k_gqa(), r.n, k_cache->nb[1], size_t(r.cell0) * k_cache->nb[1]);
        Tensor* vd = ops::view_2d(ctx, v_cache, hp.n_embd_v_gqa(), r.n, v_cache->nb[1], size_t(r.cell0) * v_cache->nb[1]);
        Tensor* k_cpy = cb(ops::cpy(ctx, ks, kd), "k_store", il);
        Tensor* v_cpy = cb(ops::cpy(ctx, vs, vd), "v_store", il);
        graph.expand(k_cpy);
        graph.expand(v_cpy);
        kv_stores_.push_back({size_t(&r - in.kv_runs.data()), kd, k_cpy, vd, v_cpy});
    }

    // Attention over cells [0, n_kv): K [hd_k, n_kv, n_head_kv], V [hd_v, n_kv, n_head_kv] views.
    const size_t ek = dtype_row_bytes(kv.type_k(), hd_k), ev = dtype_row_bytes(kv.type_v(), hd_v);
    Tensor* kview = ops::view_3d(ctx, k_cache, hd_k, in.n_kv, hp.n_head_kv, k_cache->nb[1], ek, 0);
    Tensor* vview = ops::view_3d(ctx, v_cache, hd_v, in.n_kv, hp.n_head_kv, v_cache->nb[1], ev, 0);
    kv_windows_.push_back(kview);
    kv_windows_.push_back(vview);
    Tensor* qp = ops::permute(ctx, q, 0, 2, 1, 3);  // [hd_k, T, n_head]
    Tensor* mask = hp.is_swa(il) ? inp_mask_swa : inp_mask;
    Tensor* att = nullptr;  // [hd_v, n_head, T]
    if (in.flash_attn) {
        att = cb(ops::flash_attn(ctx, qp, kview, vview, mask, hp.query_scale, hp.attn_softcap), "kqv_out", il);
    } else {
        // Scores materialised: kq [n_kv, T, n_head] = K·q (GQA broadcast), softmax over n_kv, then
        // kqv [hd_v, T, n_head] = V^T-rows · p with V transposed to [n_kv, hd_v, n_head_kv] first.
        Tensor* kq = cb(ops::mul_mat(ctx, kview, qp), "kq", il);
        if (hp.attn_softcap > 0.0f) {
            kq = ops::softcap(ctx, ops::scale(ctx, kq, hp.query_scale), hp.attn_softcap);
            kq = cb(ops::soft_max(ctx, kq, mask, 1.0f), "kq_soft_max", il);
        } else {
            kq = cb(ops::soft_max(ctx, kq, mask, hp.query_scale), "kq_soft_max", il);
        }
        Tensor* vt = cb(ops::cont(ctx, ops::transpose(ctx, vview)), "v_t", il);  // [n_kv, hd_v, n_head_kv]
        Tensor* kqv = cb(ops::mul_mat(ctx, vt, kq), "kqv", il);                  // [hd_v, T, n_head]
        att = cb(ops::cont(ctx, ops::permute(ctx, kqv, 0, 2, 1, 3)), "kqv_out", il);
    }
    if (kv.v_hadamard()) att = cb(rotate_heads(att, hd_v, KvCache::kHadamardSeedV, true), "kqv_unhad", il);
    att = ops::reshape(ctx, att, {hd_v * hp.n_head, T});  // [hd_v*n_head, T]
    return cb(ops::mul_mat(ctx, weight(L.wo), att), "attn_out", il);
}

Tensor* GraphBuilder::ffn(Tensor* x, int il) {
    const LayerWeights& L = w.layers[size_t(il)];
    Tensor* gate = cb(ops::mul_mat(ctx, weight(L.ffn_gate), x), "ffn_gate", il);  // [n_ff, T]
    Tensor* up = cb(ops::mul_mat(ctx, weight(L.ffn_up), x), "ffn_up", il);        // [n_ff, T]
    Tensor* act = spec.ffn == FfnKind::SwiGLU ? ops::swiglu(ctx, gate, up) : ops::geglu(ctx, gate, up);
    cb(act, spec.ffn == FfnKind::SwiGLU ? "ffn_swiglu" : "ffn_geglu", il);
    return cb(ops::mul_mat(ctx, weight(L.ffn_down), act), "ffn_out", il);  // [n_embd, T]
}

Tensor* GraphBuilder::prenorm_layer(Tensor* x, int il) {
    const LayerWeights& L = w.layers[size_t(il)];
    Tensor* cur = norm(x, L.attn_norm, "attn_norm", il);
    cur = attention(cur, il);
    if (il == hp.n_layer - 1) {  // only the rows whose logits are wanted go further
        cur = select_outputs(cur);
        x = select_outputs(x);
    }
    x = add(cur, x, "ffn_inp", il);
    cur = norm(x, L.ffn_norm, "ffn_norm", il);
    cur = ffn(cur, il);
    return add(cur, x, "l_out", il);
}

Tensor* GraphBuilder::select_outputs(Tensor* x) {
    // All rows wanted: inp_out_ids is the identity. None wanted: keep the rows (output() stops early).
    if (in.n_outputs == in.n_tokens || in.n_outputs == 0) return x;
    return cb(ops::get_rows(ctx, x, inp_out_ids), "out_rows", -1);
}

void GraphBuilder::output(Tensor* x) {
    if (in.n_outputs == 0) {  // nothing wanted: the graph only fills the KV cache
        result = x;
        return;
    }
    x = norm(x, w.output_norm, "result_norm", -1);  // [n_embd, n_outputs]
    result_norm = x;
    x->flags |= kFlagOutput;
    if (in.embeddings_only) {  // embedding contexts want the hidden state only
        result = x;
        return;
    }
    Tensor* logits = cb(ops::mul_mat(ctx, weight(w.output), x), "result_output", -1);  // [n_vocab, n_outputs]
    if (hp.final_softcap > 0.0f) logits = cb(ops::softcap(ctx, logits, hp.final_softcap), "result_softcap", -1);
    logits->flags |= kFlagOutput;
    result = logits;
}

void GraphBuilder::rebind() {
    HEARTH_ASSERT(reusable());
    for (Tensor* m : {inp_mask, inp_mask_swa})
        if (m) {
            m->ne[0] = in.n_kv;
            set_contiguous_strides(*m);
        }
    // Windows start at cell 0 and keep their strides (row stride of the cache, head stride
    // within a row): only the number of cells changes. n_kv <= n_cells keeps them in the cache.
    for (Tensor* t : kv_windows_) {
        HEARTH_ASSERT(in.n_kv <= t->view_src->ne[1]);
        t->ne[1] = in.n_kv;
    }
    for (const KvStore& s : kv_stores_) {
        HEARTH_ASSERT(s.run < in.kv_runs.size());
        const KvRun& r = in.kv_runs[s.run];
        for (Tensor* t : {s.k_dst, s.k_cpy, s.v_dst, s.v_cpy}) {
            const Tensor& cache = *t->view_src;
            HEARTH_ASSERT(r.cell0 >= 0 && r.cell0 + r.n <= cache.ne[1] && t->ne[1] == r.n);
            t->view_offset = size_t(r.cell0) * cache.nb[1];
            t->data = static_cast<char*>(cache.data) + t->view_offset;
        }
    }
}

ops::RopeParams layer_rope_params(const HParams& hp, const ArchSpec& spec, int il) {
    ops::RopeParams rp;
    rp.n_dims = int32_t(hp.n_rot);
    rp.mode = spec.rope == RopeKind::NeoX ? ops::RopeMode::NeoX : ops::RopeMode::Normal;
    rp.freq_base = hp.layer_rope_base(il);
    rp.freq_scale = hp.layer_rope_scale(il);
    rp.n_ctx_orig = int32_t(hp.n_ctx_train);
    return rp;
}

Tensor* build_graph(GraphBuilder& g) {
    g.spec.build(g);
    HEARTH_ASSERT(g.result != nullptr);
    g.graph.expand(g.result);
    return g.result;
}

}  // namespace hearth
