"""Float64 NumPy forward pass of a llama / qwen2 / qwen3 GGUF, weights dequantized by the `gguf`
package and every activation kept in float64: the exact arithmetic of the quantized file, free of
any engine's rounding. tests/python/test_golden_exact.py measures how far hearth and llama.cpp each
are from it on the golden models.

    python3 tests/tools/float64_forward.py MODEL.gguf 464,3139,286 [--top 5]

prints the top log-probabilities after the last token as JSON.
"""
import json
import sys

import gguf
import numpy as np


class Float64Model:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        self.t = {t.name: t for t in r.tensors}
        arch = bytes(r.fields['general.architecture'].parts[-1]).decode()
        if arch not in ('llama', 'qwen2', 'qwen3'):
            raise ValueError(f'float64_forward: unsupported architecture {arch}')

        def kv(key, default=None):
            f = r.fields.get(f'{arch}.{key}')
            return default if f is None else f.parts[-1][0]
        self.n_embd = int(kv('embedding_length'))
        self.n_head = int(kv('attention.head_count'))
        self.n_kv = int(kv('attention.head_count_kv', self.n_head))
        self.n_layer = int(kv('block_count'))
        self.eps = float(kv('attention.layer_norm_rms_epsilon'))
        self.base = float(kv('rope.freq_base', 10000.0))
        self.hd = int(kv('attention.key_length', self.n_embd // self.n_head))
        self.neox = arch in ('qwen2', 'qwen3')  # llama rotates adjacent pairs, qwen rotates halves
        self.cache = {}

    def w(self, name):
        if name not in self.cache:
            t = self.t[name]
            a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64)
            shape = [int(x) for x in reversed(t.shape)] if len(t.shape) > 1 else [int(t.shape[0])]
            self.cache[name] = a.reshape(shape)
        return self.cache[name]

    def has(self, name):
        return name in self.t

    def rms(self, v, w):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + self.eps) * w

    def rope(self, v, pos):  # v [T, H, hd]
        half = self.hd // 2
        ang = np.outer(pos, self.base ** (-np.arange(half) * 2.0 / self.hd))
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if self.neox:
            a, b = v[..., :half], v[..., half:]
            return np.concatenate([a * c - b * s, a * s + b * c], -1)
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out

    def log_probs(self, tokens):
        """[len(tokens), n_vocab] log-probabilities of the next token after each position."""
        n, hd = len(tokens), self.hd
        x = self.w('token_embd.weight')[tokens].copy()
        pos = np.arange(n)
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for il in range(self.n_layer):
            p = f'blk.{il}.'
            h = self.rms(x, self.w(p + 'attn_norm.weight'))
            q = (h @ self.w(p + 'attn_q.weight').T).reshape(n, self.n_head, hd)
            k = (h @ self.w(p + 'attn_k.weight').T).reshape(n, self.n_kv, hd)
            v = (h @ self.w(p + 'attn_v.weight').T).reshape(n, self.n_kv, hd)
            for nm, arr in (('attn_q.bias', q), ('attn_k.bias', k), ('attn_v.bias', v)):
                if self.has(p + nm):
                    arr += self.w(p + nm).reshape(arr.shape[1:])
            if self.has(p + 'attn_q_norm.weight'):
                q = self.rms(q, self.w(p + 'attn_q_norm.weight'))
                k = self.rms(k, self.w(p + 'attn_k_norm.weight'))
            q, k = self.rope(q, pos), self.rope(k, pos)
            out = np.zeros((n, self.n_head, hd))
            group = self.n_head // self.n_kv
            for hh in range(self.n_head):
                s = q[:, hh, :] @ k[:, hh // group, :].T / np.sqrt(hd) + mask
                s = np.exp(s - s.max(-1, keepdims=True))
                out[:, hh, :] = (s / s.sum(-1, keepdims=True)) @ v[:, hh // group, :]
            x = x + out.reshape(n, -1) @ self.w(p + 'attn_output.weight').T
            h = self.rms(x, self.w(p + 'ffn_norm.weight'))
            g = h @ self.w(p + 'ffn_gate.weight').T
            x = x + ((g / (1 + np.exp(-g))) * (h @ self.w(p + 'ffn_up.weight').T)) @ self.w(p + 'ffn_down.weight').T
        x = self.rms(x, self.w('output_norm.weight'))
        out_w = self.w('output.weight' if self.has('output.weight') else 'token_embd.weight')
        logits = x @ out_w.T
        logits -= logits.max(-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


if __name__ == '__main__':
    m = Float64Model(sys.argv[1])
    toks = [int(t) for t in sys.argv[2].split(',')]
    top = int(sys.argv[sys.argv.index('--top') + 1]) if '--top' in sys.argv else 5
    lp = m.log_probs(toks)[-1]
    best = np.argsort(-lp)[:top]
    print(json.dumps([[int(i), float(lp[i])] for i in best]))
