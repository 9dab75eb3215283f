#!/usr/bin/env python3
"""Float64 NumPy forward pass of a gemma3 GGUF (weights dequantized by the `gguf` package): the exact-
arithmetic reference used to tell whether hearth's or llama.cpp's quantized path drifts. Prints the top-5
log-probabilities after the given prompt tokens as JSON.

    python3 tests/tools/gemma3_float64_reference.py MODEL.gguf 2,818,5279,529,7001,563 [--q8-activations]

--q8-activations emulates per-32 int8 activation quantization (d = amax/127, round to nearest) before every
quantized matmul and the output matrix, as hearth's CPU kernels do. Shapes are Gemma 3 270M's (read from the
file would be nicer; the constants below are checked against it).
"""
import json
import sys

import gguf
import numpy as np
r = gguf.GGUFReader(sys.argv[1])
T = {t.name: t for t in r.tensors}
def W(name):
    t = T[name]
    a = gguf.quants.dequantize(t.data, t.tensor_type)
    return np.asarray(a, dtype=np.float64).reshape([int(x) for x in reversed(t.shape)] if len(t.shape)>1 else [int(t.shape[0])])
toks = [int(x) for x in sys.argv[2].split(',')]
Q8 = '--q8-activations' in sys.argv[3:]
n_embd = 640; n_head = 4; hd = 256; eps = 1e-6; nl = 18
assert int(T['token_embd.weight'].shape[0]) == n_embd and f'blk.{nl - 1}.attn_q.weight' in T
emb_t = T['token_embd.weight']
emb = np.asarray(gguf.quants.dequantize(emb_t.data, emb_t.tensor_type), dtype=np.float32).reshape(-1, n_embd)
x = emb[toks].astype(np.float64) * np.sqrt(n_embd)
def q8(x):
    sh=x.shape; xb=x.reshape(-1,32); amax=np.abs(xb).max(1,keepdims=True); d=amax/127
    idd=np.where(d>0,1/d,0); q=np.clip(np.round(xb*idd),-127,127)
    return (q*d).reshape(sh)
def mm(h, name):
    t=T[name]
    if not Q8 or t.tensor_type.name in ('F32', 'F16', 'BF16'): return h @ W(name).T
    return q8(h)@W(name).T
def rms(v, w): return v / np.sqrt((v*v).mean(-1, keepdims=True) + eps) * w
def rope(v, pos, base):  # v [T, H, hd] neox
    half = hd//2
    inv = base ** (-np.arange(half)*2.0/hd)
    ang = np.outer(pos, inv)  # T, half
    c, s = np.cos(ang)[:,None,:], np.sin(ang)[:,None,:]
    a, b = v[..., :half], v[..., half:]
    return np.concatenate([a*c - b*s, a*s + b*c], -1)
def gelu(v): return 0.5*v*(1+np.tanh(np.sqrt(2/np.pi)*(v+0.044715*v**3)))
n=len(toks); pos=np.arange(n)
mask = np.triu(np.full((n,n), -np.inf), 1)
for l in range(nl):
    p=f'blk.{l}.'
    h = rms(x, W(p+'attn_norm.weight'))
    q = mm(h, p+'attn_q.weight').reshape(n, n_head, hd)
    k = mm(h, p+'attn_k.weight').reshape(n, 1, hd)
    v = mm(h, p+'attn_v.weight').reshape(n, 1, hd)
    q = rms(q, W(p+'attn_q_norm.weight')); k = rms(k, W(p+'attn_k_norm.weight'))
    base = 1e6 if (l+1) % 6 == 0 else 1e4
    q = rope(q, pos, base); k = rope(k, pos, base)
    q = q / np.sqrt(hd)
    out = np.zeros((n, n_head, hd))
    for hh in range(n_head):
        s = q[:,hh,:] @ k[:,0,:].T + mask
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        out[:,hh,:] = s @ v[:,0,:]
    o = mm(out.reshape(n, -1), p+'attn_output.weight')
    x = x + rms(o, W(p+'post_attention_norm.weight'))
    h = rms(x, W(p+'ffn_norm.weight'))
    f = mm(gelu(mm(h, p+'ffn_gate.weight')) * mm(h, p+'ffn_up.weight'), p+'ffn_down.weight')
    x = x + rms(f, W(p+'post_ffw_norm.weight'))
x = rms(x[-1], W('output_norm.weight'))
logits = emb.astype(np.float64) @ (q8(x) if Q8 else x)
lp = logits - logits.max(); lp -= np.log(np.exp(lp).sum())
top = np.argsort(-lp)[:5]
print(json.dumps([[int(i), float(lp[i])] for i in top]))
