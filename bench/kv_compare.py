#!/usr/bin/env python3
"""Generation speed at depth with each KV-cache type, hearth vs llama.cpp (llama-cpp-python) in one
run: tg<N> after the cache already holds <D> tokens (llama-bench's -d), flash attention on, same
-ctk/-ctv for both engines. Hadamard-rotated configurations (+had) exist in hearth only; they are
reported without a peer figure.

    python3 bench/kv_compare.py -m FILE [-d 4096] [-n 128] [-t 2] [-r 2] [--types f16,q8_0,q4_0,q4_0+had]

Prints a markdown table and, last, one JSON line with every figure.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGML_TYPE_ID = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30}


def hearth_tg(binary, model, kv, had, depth, n_gen, threads, reps):
    cmd = [binary, "bench", "-m", model, "-p", "0", "-n", str(n_gen), "-d", str(depth), "-t", str(threads),
           "-r", str(reps), "-o", "json", "-ctk", kv, "-ctv", kv, "-fa", "on"] + (["-khad", "-vhad"] if had else [])
    row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)[0]
    return row["avg_ts"], row.get("stddev_ts", 0.0)


def llamacpp_tg(model, kv, depth, n_gen, threads, reps):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=model, n_ctx=depth + n_gen + 64, n_batch=512, n_ubatch=512, n_threads=threads,
                          n_threads_batch=threads, type_k=GGML_TYPE_ID[kv], type_v=GGML_TYPE_ID[kv], flash_attn=True,
                          verbose=False)
    n_vocab = llm.n_vocab()
    llm.eval([(i * 7919 + 13) % n_vocab for i in range(depth)])  # fill the cache once, untimed
    ts = []
    for rep in range(reps + 1):  # the first repetition warms up and is discarded
        llm.n_tokens = depth     # the next eval drops everything after the depth
        t0 = time.perf_counter()
        for i in range(n_gen):
            llm.eval([(i * 31 + 7) % n_vocab])
        if rep > 0:
            ts.append(n_gen / (time.perf_counter() - t0))
    del llm
    return statistics.mean(ts), (statistics.stdev(ts) if len(ts) > 1 else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-d", "--depth", type=int, default=4096)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--reps", type=int, default=2)
    ap.add_argument("--types", default="f16,q8_0,q4_0,q4_0+had")
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    args = ap.parse_args()
    rows = []
    for cfg in args.types.split(","):
        kv, had = cfg.split("+")[0], cfg.endswith("+had")
        ours = hearth_tg(args.hearth, args.model, kv, had, args.depth, args.n_gen, args.threads, args.reps)
        peer = (float("nan"), 0.0) if had else llamacpp_tg(args.model, kv, args.depth, args.n_gen, args.threads, args.reps)
        rows.append({"model": os.path.basename(args.model), "kv": cfg, "test": f"tg{args.n_gen}@d{args.depth}",
                     "hearth_ts": ours[0], "hearth_sd": ours[1], "llamacpp_ts": peer[0], "llamacpp_sd": peer[1],
                     "ratio": ours[0] / peer[0] if peer[0] == peer[0] and peer[0] > 0 else None})
        print(f"{cfg}: hearth {ours[0]:.2f} llama.cpp {peer[0]:.2f}", file=sys.stderr)
    print("| model | KV (K=V) | test | hearth t/s | llama.cpp t/s | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
        print(f"| {r['model']} | {r['kv']} | {r['test']} | {r['hearth_ts']:.2f} ± {r['hearth_sd']:.2f} | "
              f"{r['llamacpp_ts']:.2f} ± {r['llamacpp_sd']:.2f} | {ratio} |")
    print(json.dumps({"kv_compare": rows}))


if __name__ == "__main__":
    main()
