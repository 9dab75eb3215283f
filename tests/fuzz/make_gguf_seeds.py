#!/usr/bin/env python3
# Writes a few small valid GGUF files (every metadata value type, several tensor types) as the seed
# corpus of fuzz_gguf. Usage: make_gguf_seeds.py OUT_DIR   (needs the `gguf` and numpy packages)
import os
import sys

import numpy as np
import gguf


def write(path, arch, tensors, extra):
    w = gguf.GGUFWriter(path, arch)
    w.add_name("seed")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(32)
    w.add_head_count(2)
    w.add_layer_norm_rms_eps(1e-5)
    for key, fn, val in extra:
        getattr(w, fn)(key, val)
    for name, arr, raw in tensors:
        if raw is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    kinds = [("k.u8", "add_uint8", 7), ("k.i8", "add_int8", -7), ("k.u16", "add_uint16", 700),
             ("k.i16", "add_int16", -700), ("k.u32", "add_uint32", 70000), ("k.i32", "add_int32", -70000),
             ("k.u64", "add_uint64", 1 << 40), ("k.i64", "add_int64", -(1 << 40)),
             ("k.f32", "add_float32", 1.5), ("k.f64", "add_float64", 2.5), ("k.b", "add_bool", True),
             ("k.s", "add_string", "héllo"), ("k.as", "add_array", ["a", "bc", ""]),
             ("k.ai", "add_array", [1, 2, 3]), ("k.af", "add_array", [0.5, 1.5])]
    f32 = np.arange(32, dtype=np.float32).reshape(2, 16)
    write(os.path.join(out, "seed-all-kv.gguf"), "llama", [("a", f32, None)], kinds)
    q8 = np.zeros((2, 34), dtype=np.uint8)  # two Q8_0 blocks = 2 rows of 32 elements
    write(os.path.join(out, "seed-q8.gguf"), "qwen3",
          [("tok_embd.weight", q8, gguf.GGMLQuantizationType.Q8_0),
           ("norm.weight", np.ones(32, dtype=np.float16), None),
           ("x", np.ones((1, 2, 2, 4), dtype=np.float32), None)], kinds[:3])
    write(os.path.join(out, "seed-empty.gguf"), "gemma3", [], [])


if __name__ == "__main__":
    main()
