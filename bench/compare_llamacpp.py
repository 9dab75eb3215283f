#!/usr/bin/env python3
"""Side-by-side speed of hearth and llama.cpp (the llama-cpp-python PyPI package, built from source
on this machine) on the same GGUF files, in one run: pp<N> (prompt tokens/s, one batch) and
tg<N> (generated tokens/s, one token per step), mean ± sd over repetitions, and the ratio.
With --ik, ik_llama.cpp too (the ik_llama_cpp_python PyPI package built from source with
GGML_NATIVE, run-time repacking on, as `-rtr 1`: `scripts/setup --bench-ik` installs it).

    python3 bench/compare_llamacpp.py -m A.gguf [-m B.gguf ...] [-p 512] [-n 128] [-t 2] [-r 3] [--ik]

Prints a markdown table and, last, one JSON line (machine-readable) with every figure.
Runs hearth and llama.cpp alternately per file so drift on a shared machine hits both alike.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hearth_bench(binary, model, n_prompt, n_gen, threads, reps):
    """Runs `hearth bench -o json` and returns {"pp": (mean, sd), "tg": (mean, sd)}."""
    cmd = [binary, "bench", "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-t", str(threads),
           "-r", str(reps), "-o", "json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    result = {}
    for row in rows:
        key = "pp" if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0 else "tg"
        result[key] = (row["avg_ts"], row.get("stddev_ts", 0.0))
    return result


def llamacpp_bench(model, n_prompt, n_gen, threads, reps):
    """Times llama.cpp through llama-cpp-python's Llama.eval: a prompt batch, then single tokens."""
    import llama_cpp  # imported here so `--help` works without it

    llm = llama_cpp.Llama(model_path=model, n_ctx=max(n_prompt, n_gen) + 16, n_batch=max(n_prompt, 1),
                          n_ubatch=max(n_prompt, 1), n_threads=threads, n_threads_batch=threads, verbose=False,
                          logits_all=False)
    n_vocab = llm.n_vocab()
    prompt = [(i * 7919 + 13) % n_vocab for i in range(n_prompt)]
    pp, tg = [], []
    for rep in range(reps + 1):  # the first repetition warms up and is discarded
        llm.reset()
        t0 = time.perf_counter()
        if prompt:
            llm.eval(prompt)
        t1 = time.perf_counter()
        llm.reset()
        t2 = time.perf_counter()
        token = 13
        for _ in range(n_gen):
            llm.eval([token])
        t3 = time.perf_counter()
        if rep > 0:
            pp.append(n_prompt / (t1 - t0) if n_prompt else 0.0)
            tg.append(n_gen / (t3 - t2))
    del llm
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {"pp": (statistics.mean(pp), sd(pp)), "tg": (statistics.mean(tg), sd(tg))}


def ik_bench(model, n_prompt, n_gen, threads, reps):
    """Times ik_llama.cpp through ik_llama_cpp_python's C API wrappers: a prompt batch, then single
    tokens, with run-time repacking of the weights (llama-bench -rtr 1) and flash attention."""
    import ctypes
    import importlib.util

    # The package's libllama.so has no rpath to its libggml.so: load that one first, globally.
    spec = importlib.util.find_spec("ik_llama_cpp")
    if spec is None:
        raise RuntimeError("ik_llama_cpp is not installed (scripts/setup --bench-ik)")
    ggml = os.path.join(list(spec.submodule_search_locations)[0], "lib", "libggml.so")
    if os.path.exists(ggml):
        ctypes.CDLL(ggml, mode=ctypes.RTLD_GLOBAL)
    from ik_llama_cpp import _ctypes_api as C  # imported here so the rest works without it
    from ik_llama_cpp import _internals as I

    C.llama_backend_init()
    mp = C.llama_model_default_params()
    mp.n_gpu_layers = 0
    mp.repack_tensors = True
    mdl = C.llama_model_load_from_file(model.encode(), mp)
    if not mdl:
        raise RuntimeError(f"ik_llama.cpp cannot load {model}")
    cp = C.llama_context_default_params()
    cp.n_ctx = max(n_prompt, n_gen) + 16
    cp.n_batch = max(n_prompt, 1)
    cp.n_ubatch = max(n_prompt, 1)
    cp.n_threads = threads
    cp.n_threads_batch = threads
    cp.flash_attn = True
    ctx = C.llama_init_from_model(mdl, cp)
    if not ctx:
        raise RuntimeError("ik_llama.cpp cannot create a context")
    n_vocab = C.llama_vocab_n_tokens(C.llama_model_get_vocab(mdl))
    prompt = [(i * 7919 + 13) % n_vocab for i in range(n_prompt)]
    pp, tg = [], []
    for rep in range(reps + 1):  # the first repetition warms up and is discarded
        C.llama_kv_cache_clear(ctx)
        t0 = t1 = time.perf_counter()
        if prompt:
            batch = I.make_batch(prompt)
            t0 = time.perf_counter()
            if C.llama_decode(ctx, batch) != 0:
                raise RuntimeError("ik_llama.cpp decode failed")
            t1 = time.perf_counter()
            C.llama_batch_free(batch)
        C.llama_kv_cache_clear(ctx)
        token = 13
        singles = [I.make_batch_single(token, pos) for pos in range(n_gen)]
        t2 = time.perf_counter()
        for b in singles:
            C.llama_decode(ctx, b)
        t3 = time.perf_counter()
        for b in singles:
            C.llama_batch_free(b)
        if rep > 0:
            pp.append(n_prompt / (t1 - t0) if n_prompt else 0.0)
            tg.append(n_gen / (t3 - t2))
    C.llama_free(ctx)
    C.llama_free_model(mdl)
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {"pp": (statistics.mean(pp), sd(pp)), "tg": (statistics.mean(tg), sd(tg))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", action="append", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    ap.add_argument("--ik", action="store_true", help="also time ik_llama.cpp (ik_llama_cpp_python)")
    args = ap.parse_args()

    results = []
    for model in args.model:
        ours = hearth_bench(args.hearth, model, args.n_prompt, args.n_gen, args.threads, args.reps)
        peer = llamacpp_bench(model, args.n_prompt, args.n_gen, args.threads, args.reps)
        ik = ik_bench(model, args.n_prompt, args.n_gen, args.threads, args.reps) if args.ik else None
        for key, n in (("pp", args.n_prompt), ("tg", args.n_gen)):
            if n <= 0:
                continue
            row = {
                "model": os.path.basename(model), "test": f"{key}{n}", "threads": args.threads,
                "hearth_ts": ours[key][0], "hearth_sd": ours[key][1],
                "llamacpp_ts": peer[key][0], "llamacpp_sd": peer[key][1],
                "ratio": ours[key][0] / peer[key][0] if peer[key][0] > 0 else None,
            }
            if ik:
                row.update({"ik_ts": ik[key][0], "ik_sd": ik[key][1],
                            "ratio_ik": ours[key][0] / ik[key][0] if ik[key][0] > 0 else None})
            results.append(row)

    ik_head = " ik_llama.cpp t/s | ratio vs ik |" if args.ik else ""
    print("| model | test | hearth t/s | llama.cpp t/s | ratio |" + ik_head)
    print("|---|---|---|---|---|" + ("---|---|" if args.ik else ""))
    for r in results:
        ik_cols = f" {r['ik_ts']:.2f} ± {r['ik_sd']:.2f} | {r['ratio_ik']:.2f}x |" if args.ik else ""
        print(f"| {r['model']} | {r['test']} | {r['hearth_ts']:.2f} ± {r['hearth_sd']:.2f} | "
              f"{r['llamacpp_ts']:.2f} ± {r['llamacpp_sd']:.2f} | {r['ratio']:.2f}x |" + ik_cols)
    print(json.dumps({"compare_llamacpp": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
