#!/usr/bin/env python3
"""Server throughput/latency benchmark: aggregate generated tokens/s and time-to-first-token
p50/p99 at 1, 4 and 8 concurrent streaming clients against `hearth serve` and, with --llama-cpp,
against `python -m llama_cpp.server` on the same model (it serves one request at a time; its
--interrupt_requests is turned off so concurrent clients queue instead of cancelling each other).
Prints one JSON object.

    python3 bench/server_bench.py -m models/gemma-3-270m-q4_k_m.gguf [--llama-cpp] [--n-predict 64]
    python3 bench/server_bench.py --url http://127.0.0.1:8080   # an already running server

Tokens are counted as streamed text chunks (both servers send one chunk per token)."""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(base + "/v1/models", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def one_stream(base, prompt, n_predict, out, i):
    try:
        stream_once(base, prompt, n_predict, out, i)
    except requests.RequestException as e:
        out[i] = (None, 0, str(e))


def stream_once(base, prompt, n_predict, out, i):
    t0 = time.perf_counter()
    ttft = None
    n = 0
    body = {"model": "m", "prompt": prompt, "max_tokens": n_predict, "temperature": 0, "stream": True}
    with requests.post(base + "/v1/completions", json=body, stream=True, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                n += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
    out[i] = (ttft if ttft is not None else time.perf_counter() - t0, n, None)


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_level(base, concurrency, rounds, n_predict):
    results = [None] * (concurrency * rounds)
    t0 = time.perf_counter()
    for r in range(rounds):
        threads = []
        for c in range(concurrency):
            i = r * concurrency + c
            prompt = f"Client {c} round {r}: write a short story about a lighthouse keeper."
            th = threading.Thread(target=one_stream, args=(base, prompt, n_predict, results, i))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
    wall = time.perf_counter() - t0
    ok = [x for x in results if x[2] is None]
    ttfts = [x[0] * 1000 for x in ok] or [float("nan")]
    tokens = sum(x[1] for x in ok)
    return {"requests": len(results), "failed": len(results) - len(ok), "tokens": tokens, "wall_s": round(wall, 3),
            "tok_per_s": round(tokens / wall, 2),
            "ttft_p50_ms": round(percentile(ttfts, 50), 1), "ttft_p99_ms": round(percentile(ttfts, 99), 1)}


def bench(base, levels, rounds, n_predict):
    stream_once(base, "warm up", 4, [None], 0)
    return {str(c): run_level(base, c, rounds, n_predict) for c in levels}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default=os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"))
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    ap.add_argument("--url", help="benchmark this running server instead of starting one")
    ap.add_argument("--llama-cpp", action="store_true", help="also run python -m llama_cpp.server")
    ap.add_argument("--levels", default="1,4,8")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of requests per level")
    ap.add_argument("--n-predict", type=int, default=64)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-c", "--ctx-size", type=int, default=1024, help="context per slot")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    report = {"model": os.path.basename(args.model), "n_predict": args.n_predict, "threads": args.threads,
              "levels": levels}

    if args.url:
        report["server"] = bench(args.url.rstrip("/"), levels, args.rounds, args.n_predict)
        print(json.dumps(report, indent=2))
        return

    slots = max(levels)
    port = free_port()
    proc = subprocess.Popen([args.hearth, "serve", "-m", args.model, "--port", str(port), "-np", str(slots),
                             "-c", str(args.ctx_size * slots), "-t", str(args.threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        report["hearth"] = bench(base, levels, args.rounds, args.n_predict)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    if args.llama_cpp:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", args.model, "--host",
                                 "127.0.0.1", "--port", str(port), "--n_ctx", str(args.ctx_size),
                                 "--n_threads", str(args.threads), "--interrupt_requests", "False"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, proc)
            report["llama_cpp_server"] = bench(base, levels, args.rounds, args.n_predict)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
