#!/usr/bin/env python3
"""Side-by-side speed of hearth and llama.cpp (the llama-cpp-python PyPI package, built from source
on this machine) on the same GGUF files, in one run: pp<N> (prompt tokens/s, one batch) and
tg<N> (generated tokens/s, one token per step), mean ± sd over repetitions, and the ratio.
With --ik, ik_llama.cpp too (the ik_llama_cpp_python PyPI package built from source with
GGML_NATIVE, run-time repacking on, as `-rtr 1`: `scripts/setup --bench-ik` installs it).

    python3 bench/compare_llamacpp.py -m A.gguf [-m B.gguf ...] [-p 512] [-n 128] [-t 2] [-r 3] [--ik]

With --read-bw (2 threads), every round also measures this machine's 2-thread streaming read
bandwidth (hearth_microbench BM_ReadBandwidth2T) and each engine's tg is turned into the weight
bytes it streams per second (the bytes a decode step must read: every tensor of the file, the
token-embedding table only when it doubles as the output matrix), as a share of that bandwidth:
decode is bandwidth bound, so this is the ceiling every engine's tg is measured against.

Prints a markdown table and, last, one JSON line (machine-readable) with every figure.
Repetitions run round-robin (hearth, llama.cpp, ik_llama.cpp, then again), so drift on a shared
machine hits them alike; "ratio" divides the means, "(median)" is the median of the per-round
ratios, which a slow spell during one engine's turn moves least. Every engine's figure in a round
comes after one whole-size round of warm-up (the peers keep their process across rounds; hearth
runs `hearth bench -r 2` and keeps the second repetition).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hearth_round(binary, model, n_prompt, n_gen, threads):
    """One repetition of `hearth bench -o json`: {"pp": t/s, "tg": t/s}. The peers below run in this
    process and discard one whole round as warm-up; hearth runs in a fresh process, so it runs two
    repetitions and keeps the second, which comes after a whole-size round as theirs do (its own
    warm-up is only 32 prompt tokens and 2 generated, like llama-bench's)."""
    cmd = [binary, "bench", "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-t", str(threads),
           "-r", "2", "-o", "json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = {"pp": 0.0, "tg": 0.0}
    for row in json.loads(out):
        key = "pp" if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0 else "tg"
        result[key] = row["samples_ts"][-1]
    return result


class LlamaCppPeer:
    """llama.cpp through llama-cpp-python's Llama.eval: a prompt batch, then single tokens."""

    def __init__(self, model, n_prompt, n_gen, threads):
        import llama_cpp  # imported here so `--help` works without it

        self.llm = llama_cpp.Llama(model_path=model, n_ctx=max(n_prompt, n_gen) + 16, n_batch=max(n_prompt, 1),
                                   n_ubatch=max(n_prompt, 1), n_threads=threads, n_threads_batch=threads,
                                   verbose=False, logits_all=False)
        n_vocab = self.llm.n_vocab()
        self.prompt = [(i * 7919 + 13) % n_vocab for i in range(n_prompt)]
        self.n_gen = n_gen
        self.round()  # warm-up, discarded

    def round(self):
        pp = tg = 0.0
        if self.prompt:
            self.llm.reset()
            t0 = time.perf_counter()
            self.llm.eval(self.prompt)
            pp = len(self.prompt) / (time.perf_counter() - t0)
        if self.n_gen:
            self.llm.reset()
            t0 = time.perf_counter()
            for _ in range(self.n_gen):
                self.llm.eval([13])
            tg = self.n_gen / (time.perf_counter() - t0)
        return {"pp": pp, "tg": tg}

    def close(self):
        del self.llm


class IkPeer:
    """ik_llama.cpp through ik_llama_cpp_python's C API wrappers: a prompt batch, then single
    tokens, with run-time repacking of the weights (llama-bench -rtr 1) and flash attention."""

    def __init__(self, model, n_prompt, n_gen, threads):
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

        self.C, self.I = C, I
        C.llama_backend_init()
        mp = C.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.repack_tensors = True
        self.mdl = C.llama_model_load_from_file(model.encode(), mp)
        if not self.mdl:
            raise RuntimeError(f"ik_llama.cpp cannot load {model}")
        cp = C.llama_context_default_params()
        cp.n_ctx = max(n_prompt, n_gen) + 16
        cp.n_batch = max(n_prompt, 1)
        cp.n_ubatch = max(n_prompt, 1)
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.flash_attn = True
        self.ctx = C.llama_init_from_model(self.mdl, cp)
        if not self.ctx:
            raise RuntimeError("ik_llama.cpp cannot create a context")
        n_vocab = C.llama_vocab_n_tokens(C.llama_model_get_vocab(self.mdl))
        self.prompt = [(i * 7919 + 13) % n_vocab for i in range(n_prompt)]
        self.n_gen = n_gen
        self.round()  # warm-up, discarded

    def round(self):
        C, I = self.C, self.I
        pp = tg = 0.0
        if self.prompt:
            C.llama_kv_cache_clear(self.ctx)
            batch = I.make_batch(self.prompt)
            t0 = time.perf_counter()
            if C.llama_decode(self.ctx, batch) != 0:
                raise RuntimeError("ik_llama.cpp decode failed")
            pp = len(self.prompt) / (time.perf_counter() - t0)
            C.llama_batch_free(batch)
        if self.n_gen:
            C.llama_kv_cache_clear(self.ctx)
            singles = [I.make_batch_single(13, pos) for pos in range(self.n_gen)]
            t0 = time.perf_counter()
            for b in singles:
                C.llama_decode(self.ctx, b)
            tg = self.n_gen / (time.perf_counter() - t0)
            for b in singles:
                C.llama_batch_free(b)
        return {"pp": pp, "tg": tg}

    def close(self):
        self.C.llama_free(self.ctx)
        self.C.llama_free_model(self.mdl)


def decode_bytes_per_token(model):
    """Bytes of weights one decode step reads: every tensor, except a token-embedding table that
    only feeds get_rows (one row per token) because the file has its own output matrix."""
    import gguf  # the PyPI reader (scripts/setup installs it)
    tensors = gguf.GGUFReader(model).tensors
    names = {t.name for t in tensors}
    untied = "output.weight" in names
    return sum(int(t.n_bytes) for t in tensors if not (untied and t.name == "token_embd.weight"))


def read_bandwidth_gbs(microbench):
    """This machine's 2-thread streaming read bandwidth right now, GB/s (512 MiB buffer)."""
    out = subprocess.run([microbench, "--benchmark_filter=^BM_ReadBandwidth2T/", "--benchmark_format=json",
                          "--benchmark_min_time=0.3"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["benchmarks"][0]["GB/s"]  # (the counter is already in GB/s)


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def compare_file(args, model):
    """Round-robin repetitions: each round times hearth, llama.cpp (and ik_llama.cpp) back to back,
    so a slow spell of the shared machine lands on all of them rather than on one."""
    peers = {"llamacpp": LlamaCppPeer(model, args.n_prompt, args.n_gen, args.threads)}
    if args.ik:
        peers["ik"] = IkPeer(model, args.n_prompt, args.n_gen, args.threads)
    samples = {name: {"pp": [], "tg": []} for name in ["hearth", *peers]}
    samples["read_bw"] = []
    try:
        for _ in range(args.reps):
            if args.read_bw:
                samples["read_bw"].append(read_bandwidth_gbs(args.microbench))
            rounds = {"hearth": hearth_round(args.hearth, model, args.n_prompt, args.n_gen, args.threads)}
            for name, peer in peers.items():
                rounds[name] = peer.round()
            for name, r in rounds.items():
                for key in ("pp", "tg"):
                    samples[name][key].append(r[key])
    finally:
        for peer in peers.values():
            peer.close()
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", action="append", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    ap.add_argument("--ik", action="store_true", help="also time ik_llama.cpp (ik_llama_cpp_python)")
    ap.add_argument("--read-bw", action="store_true",
                    help="measure the 2-thread read bandwidth each round and report tg as a share of it")
    ap.add_argument("--microbench", default=os.path.join(ROOT, "build", "bin", "hearth_microbench"))
    args = ap.parse_args()
    if args.read_bw and args.threads != 2:
        ap.error("--read-bw measures 2 threads: use it with -t 2")

    results = []
    for model in args.model:
        samples = compare_file(args, model)
        for key, n in (("pp", args.n_prompt), ("tg", args.n_gen)):
            if n <= 0:
                continue
            ours, peer = mean_sd(samples["hearth"][key]), mean_sd(samples["llamacpp"][key])
            row = {
                "model": os.path.basename(model), "test": f"{key}{n}", "threads": args.threads,
                "hearth_ts": ours[0], "hearth_sd": ours[1], "llamacpp_ts": peer[0], "llamacpp_sd": peer[1],
                "ratio": ours[0] / peer[0] if peer[0] > 0 else None,
                # per round, hearth / peer from runs seconds apart: the drift-resistant figure
                "ratio_median": statistics.median(h / p for h, p in zip(samples["hearth"][key], samples["llamacpp"][key])),
                "hearth_samples": samples["hearth"][key], "llamacpp_samples": samples["llamacpp"][key],
            }
            if args.ik:
                ik = mean_sd(samples["ik"][key])
                row.update({"ik_ts": ik[0], "ik_sd": ik[1], "ratio_ik": ours[0] / ik[0] if ik[0] > 0 else None,
                            "ratio_ik_median": statistics.median(h / p for h, p in zip(samples["hearth"][key], samples["ik"][key])),
                            "ik_samples": samples["ik"][key]})
            if key == "tg" and args.read_bw:
                # Per round: weight bytes streamed per second / the bandwidth measured just before.
                per_tok = decode_bytes_per_token(model)
                row["decode_bytes_per_token"] = per_tok
                row["read_bw_samples"] = samples["read_bw"]
                for name in ["hearth", *(["llamacpp", "ik"] if args.ik else ["llamacpp"])]:
                    row[f"{name}_bw_share"] = statistics.median(
                        ts * per_tok / 1e9 / bw for ts, bw in zip(samples[name]["tg"], samples["read_bw"]))
            results.append(row)

    ik_head = " ik_llama.cpp t/s | ratio vs ik (median) |" if args.ik else ""
    print("| model | test | hearth t/s | llama.cpp t/s | ratio (median) |" + ik_head)
    print("|---|---|---|---|---|" + ("---|---|" if args.ik else ""))
    for r in results:
        ik_cols = (f" {r['ik_ts']:.2f} ± {r['ik_sd']:.2f} | {r['ratio_ik']:.2f}x ({r['ratio_ik_median']:.2f}x) |"
                   if args.ik else "")
        print(f"| {r['model']} | {r['test']} | {r['hearth_ts']:.2f} ± {r['hearth_sd']:.2f} | "
              f"{r['llamacpp_ts']:.2f} ± {r['llamacpp_sd']:.2f} | {r['ratio']:.2f}x ({r['ratio_median']:.2f}x) |" + ik_cols)
    if args.read_bw:
        print()
        print("| model | test | read bandwidth GB/s | bytes/token | hearth share | llama.cpp share |" +
              (" ik_llama.cpp share |" if args.ik else ""))
        print("|---|---|---|---|---|---|" + ("---|" if args.ik else ""))
        for r in results:
            if "hearth_bw_share" not in r:
                continue
            bw = mean_sd(r["read_bw_samples"])
            print(f"| {r['model']} | {r['test']} | {bw[0]:.1f} ± {bw[1]:.1f} | {r['decode_bytes_per_token'] / 1e6:.0f} MB | "
                  f"{100 * r['hearth_bw_share']:.0f}% | {100 * r['llamacpp_bw_share']:.0f}% |" +
                  (f" {100 * r['ik_bw_share']:.0f}% |" if args.ik else ""))
    print(json.dumps({"compare_llamacpp": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
