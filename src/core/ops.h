// Graph op builders: each function checks its inputs' types and shapes (throwing
// Error(InvalidArgument) naming the op and the tensors on a mismatch), creates the result node in
// the Context and returns it, unnamed ("" — name it, e.g. t->format_name("blk.%d.ffn_out", il)).
// Nothing is computed here; a backend computes the graph later (backend/scheduler.h).
//
// Shape convention (ggml's): ne[0] is the contiguous dimension. A batch of n_tokens embeddings is
// [n_embd, n_tokens]; per-head activations are [head_dim, n_head, n_tokens]. All compute results
// are F32 unless stated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "core/context.h"
#include "core/tensor.h"

namespace hearth::ops {

// ---------------- views (no copy, no compute; share the source's memory) ----------------------
// The view must lie inside the source's bytes. Offsets are in bytes; strides nb1..nb3 in bytes.
Tensor* view_1d(Context& ctx, Tensor* a, int64_t ne0, size_t offset);
Tensor* view_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset);
Tensor* view_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2,
                size_t offset);
Tensor* view_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1,
                size_t nb2, size_t nb3, size_t offset);
// Same elements, new shape (1-4 dims, same element count). a must be contiguous.
Tensor* reshape(Context& ctx, Tensor* a, std::initializer_list<int64_t> ne);
// Dim i of a becomes dim axis_i of the result (ggml semantics): result.ne[axis_i] = a.ne[i].
// Example: q [head_dim, n_head, n_tokens] permute(0,2,1,3) -> [head_dim, n_tokens, n_head].
Tensor* permute(Context& ctx, Tensor* a, int axis0, int axis1, int axis2, int axis3);
// Swap dims 0 and 1.
Tensor* transpose(Context& ctx, Tensor* a);

// ---------------- data movement ---------------------------------------------------------------
// table [n_embd, n_rows] of any dequantizable type (F32/F16/BF16/quantized), ids I32 [n] (or
// [n, m]) -> F32 [n_embd, n] (or [n_embd, n, m]). An id outside [0, n_rows) fails at compute time
// with Error(InvalidArgument).
Tensor* get_rows(Context& ctx, Tensor* table, Tensor* ids);
// Contiguous copy with the same shape and type (F32/F16/BF16/I32).
Tensor* cont(Context& ctx, Tensor* a);
// Writes src (F32, any layout) into dst (F32/F16/BF16; typically a view of the KV cache), element
// by element in logical (row-major over ne[0..3]) order; src and dst must have the same number of
// elements. Returns a node that aliases dst's memory (shape of dst). Expand it into the graph
// BEFORE the nodes that read the cache.
Tensor* cpy(Context& ctx, Tensor* src, Tensor* dst);
// a ++ b along dim (0..3); all other dims equal; both F32.
Tensor* concat(Context& ctx, Tensor* a, Tensor* b, int dim);
// a F32 [n, rows...] -> I32 [nrows(a)]: index of the first maximum of each row.
Tensor* argmax(Context& ctx, Tensor* a);

// ---------------- matrix product -----------------------------------------------------------------
// w [K, M, W2, W3] weights: any dequantizable type (quantized, F16, BF16, F32); rows of w must be
// element-contiguous (nb[0] packed), other strides free (views of an F16 KV cache are fine).
// x [K, N, X2, X3] F32 activations (rows element-contiguous), X2 % W2 == 0, X3 % W3 == 0.
// -> [M, N, X2, X3] F32 with out[i, j, i2, i3] = dot(w[:, i, i2 / (X2/W2), i3 / (X3/W3)], x[:, j, i2, i3]).
// The dim-2/3 broadcast is grouped-query attention: KV head h serves query heads h*g .. h*g+g-1.
// With F16/BF16 weights the activations are rounded to that type first (as llama.cpp does);
// quantized weights meet activations quantized by the kernels (Q8 formats).
Tensor* mul_mat(Context& ctx, Tensor* w, Tensor* x);

// ---------------- element-wise --------------------------------------------------------------------
// a F32, b F32 broadcast over a: b.ne[i] divides a.ne[i] for every i (a row vector b [n] broadcasts
// over all rows). Result has a's shape.
Tensor* add(Context& ctx, Tensor* a, Tensor* b);
Tensor* mul(Context& ctx, Tensor* a, Tensor* b);
Tensor* div(Context& ctx, Tensor* a, Tensor* b);
Tensor* scale(Context& ctx, Tensor* a, float s);
// cap * tanh(a / cap) (Gemma 2 style logit soft-capping).
Tensor* softcap(Context& ctx, Tensor* a, float cap);
Tensor* silu(Context& ctx, Tensor* a);      // a * sigmoid(a)
Tensor* gelu(Context& ctx, Tensor* a);      // 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))
Tensor* gelu_erf(Context& ctx, Tensor* a);  // 0.5 a (1 + erf(a / sqrt 2))
Tensor* tanh(Context& ctx, Tensor* a);
// Fused gated activations, a and b of equal shape: silu(a) * b and gelu(a) * b (tanh gelu).
Tensor* swiglu(Context& ctx, Tensor* a, Tensor* b);
Tensor* geglu(Context& ctx, Tensor* a, Tensor* b);

// ---------------- normalisation -------------------------------------------------------------------
// Per row (over ne[0]): a / sqrt(mean(a^2) + eps). Multiply by the weight with mul().
Tensor* rms_norm(Context& ctx, Tensor* a, float eps);
// Per row: (a - mean) / sqrt(var + eps). Weight / bias via mul() / add().
Tensor* layer_norm(Context& ctx, Tensor* a, float eps);

// ---------------- rotary position embedding -------------------------------------------------------
enum class RopeMode : int32_t {
    Normal = 0,  // rotate adjacent pairs (x[2i], x[2i+1])         — llama, gemma (GGUF "norm")
    NeoX = 2,    // rotate halves (x[i], x[i + n_dims/2])         — qwen2/3, gpt-neox
};
struct RopeParams {
    int32_t n_dims = 0;         // rotated dims (even, <= head_dim); the rest pass through unchanged
    RopeMode mode = RopeMode::Normal;
    float freq_base = 10000.0f;  // theta_i = pos * freq_base^(-2i/n_dims)
    float freq_scale = 1.0f;     // linear position scaling (1 / rope scaling factor)
    int32_t n_ctx_orig = 0;      // YaRN: training context length
    float ext_factor = 0.0f;     // YaRN ramp mix; 0 disables YaRN corrections
    float attn_factor = 1.0f;    // multiplies cos/sin (YaRN magnitude scaling)
    float beta_fast = 32.0f;     // YaRN correction range (rotations)
    float beta_slow = 1.0f;
};
// x F32 [head_dim, n_head, n_tokens], pos I32 [n_tokens] -> same shape as x.
Tensor* rope(Context& ctx, Tensor* x, Tensor* pos, const RopeParams& p);

// ---------------- attention ----------------------------------------------------------------------
// a F32 [n_kv, n_q, n_head, 1] -> softmax over ne[0] of (a * scale + mask). mask (optional) F32
// [n_kv, >= n_q]: row i1 applies to query row i1 of every head; -INFINITY masks a key out.
// A fully masked row yields zeros.
Tensor* soft_max(Context& ctx, Tensor* a, Tensor* mask, float scale);

// Fused attention, online softmax over KV tiles, no [n_kv, n_q] scores materialised.
//   q    F32 [D,  n_q,  n_head,    1]   (any strides with element-contiguous rows)
//   k    F16/F32 [D,  n_kv, n_head_kv, 1] (views of the KV cache are fine)
//   v    F16/F32 [Dv, n_kv, n_head_kv, 1]
//   mask F32 [n_kv, >= n_q] or nullptr (same meaning as in soft_max)
//   n_head % n_head_kv == 0 (GQA: query head h reads KV head h / (n_head / n_head_kv)).
// scores = q.k * scale; if softcap > 0: scores = softcap * tanh(scores / softcap); then + mask.
// -> F32 [Dv, n_head, n_q, 1] contiguous: reshape to [Dv*n_head, n_q] for the output projection.
Tensor* flash_attn(Context& ctx, Tensor* q, Tensor* k, Tensor* v, Tensor* mask, float scale,
                   float softcap = 0.0f);

}  // namespace hearth::ops
