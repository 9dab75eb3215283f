"""Float64 NumPy forward passes of the encoder architectures, independent of hearth's code, for the
rerank / nomic-bert tests: bert (absolute positions, token types, post-LayerNorm, GELU), nomic-bert
(NeoX rotary, fused QKV, SwiGLU) and the cross-encoder rank head (pooler dense + tanh, classifier).
Weights are dicts of float64 arrays in torch orientation ([out, in]) named as in GGUF."""
import functools
import json
import math
import struct

import numpy as np


@functools.lru_cache(maxsize=4)
def read_gguf(path):
    """(weights, metadata) of a GGUF with F32/F16 tensors: name -> float64 array [.., ne1, ne0]."""
    from gguf import GGUFReader

    r = GGUFReader(path)
    w = {t.name: np.array(t.data, dtype=np.float64).reshape([int(d) for d in reversed(t.shape)]) for t in r.tensors}
    meta = {}
    for name, f in r.fields.items():
        if len(f.data) == 1 and not name.startswith("tokenizer."):
            v = f.parts[f.data[0]]
            meta[name] = bytes(v).decode() if v.dtype == np.uint8 else v.tolist()[0]
    return w, meta


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def attention(q, k, v, n_head):
    """q, k, v [T, E] -> [T, E]; every token sees every token (non-causal)."""
    T, E = q.shape
    hd = E // n_head
    qh, kh, vh = (a.reshape(T, n_head, hd).transpose(1, 0, 2) for a in (q, k, v))
    s = qh @ kh.transpose(0, 2, 1) / math.sqrt(hd)
    s = np.exp(s - s.max(-1, keepdims=True))
    p = s / s.sum(-1, keepdims=True)
    return (p @ vh).transpose(1, 0, 2).reshape(T, E)


def rope_neox(x, n_head, base):
    """x [T, E] per head [hd]: pairs (i, i + hd/2) rotated by pos * base^(-2i/hd)."""
    T, E = x.shape
    hd = E // n_head
    h = x.reshape(T, n_head, hd)
    half = hd // 2
    inv = base ** (-np.arange(half) * 2.0 / hd)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = h[..., :half], h[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], -1).reshape(T, E)


_erf = np.vectorize(math.erf)


def bert_forward(w, tokens, types, n_head, eps):
    """Hidden states [T, E] of bert."""
    T = len(tokens)
    x = w["token_embd.weight"][tokens] + w["position_embd.weight"][np.arange(T)] + w["token_types.weight"][types]
    x = layer_norm(x, w["token_embd_norm.weight"], w["token_embd_norm.bias"], eps)
    il = 0
    while f"blk.{il}.attn_q.weight" in w:
        p = f"blk.{il}."
        q, k, v = (x @ w[p + m + ".weight"].T + w.get(p + m + ".bias", 0.0) for m in ("attn_q", "attn_k", "attn_v"))
        a = attention(q, k, v, n_head) @ w[p + "attn_output.weight"].T + w.get(p + "attn_output.bias", 0.0)
        x = layer_norm(a + x, w[p + "attn_output_norm.weight"], w[p + "attn_output_norm.bias"], eps)
        h = x @ w[p + "ffn_up.weight"].T + w.get(p + "ffn_up.bias", 0.0)
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        h = h @ w[p + "ffn_down.weight"].T + w.get(p + "ffn_down.bias", 0.0)
        x = layer_norm(h + x, w[p + "layer_output_norm.weight"], w[p + "layer_output_norm.bias"], eps)
        il += 1
    return x


def nomic_bert_forward(w, tokens, types, n_head, eps, rope_base):
    """Hidden states [T, E] of nomic-bert."""
    x = w["token_embd.weight"][tokens] + w["token_types.weight"][types]
    x = layer_norm(x, w["token_embd_norm.weight"], w["token_embd_norm.bias"], eps)
    E = x.shape[1]
    il = 0
    while f"blk.{il}.attn_qkv.weight" in w:
        p = f"blk.{il}."
        qkv = x @ w[p + "attn_qkv.weight"].T
        q, k, v = qkv[:, :E], qkv[:, E:2 * E], qkv[:, 2 * E:]
        q, k = rope_neox(q, n_head, rope_base), rope_neox(k, n_head, rope_base)
        a = attention(q, k, v, n_head) @ w[p + "attn_output.weight"].T
        x = layer_norm(a + x, w[p + "attn_output_norm.weight"], w[p + "attn_output_norm.bias"], eps)
        g = x @ w[p + "ffn_gate.weight"].T
        h = (g / (1.0 + np.exp(-g))) * (x @ w[p + "ffn_up.weight"].T)
        x = layer_norm(h @ w[p + "ffn_down.weight"].T + x, w[p + "layer_output_norm.weight"], w[p + "layer_output_norm.bias"], eps)
        il += 1
    return x


def rank_score(w, cls_hidden):
    """Cross-encoder head on the CLS row: classifier(tanh(pooler(h))); logit 0."""
    h = np.tanh(w["cls.weight"] @ cls_hidden + w["cls.bias"])
    return float((w["cls.output.weight"] @ h + w.get("cls.output.bias", 0.0))[0])


def write_safetensors(path, tensors):
    """A minimal safetensors file of F32 tensors (Hugging Face checkpoints for the convert tests)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
