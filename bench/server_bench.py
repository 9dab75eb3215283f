#!/usr/bin/env python3
"""Server benchmark, hearth vs llama.cpp side by side in one run: aggregate generated tokens/s and
time-to-first-token p50/p99 at 1, 4 and 8 concurrent streaming chat clients (temperature 0, 64
tokens per request, 2 requests per client, one after the other), same model, same threads.

    python3 bench/server_bench.py                       # both default models, both servers
    python3 bench/server_bench.py -m FILE [-m FILE] [--no-llama-cpp] [--json out.json]
    python3 bench/server_bench.py --url http://127.0.0.1:8080   # only an already running server

hearth runs as `hearth serve -np 8 -c 8192 -t 2`. The peer is `python -m llama_cpp.server`
(llama-cpp-python): it has one context and no parallel slots, so it serves requests one at a time
(its own behaviour, reported as such); it gets --n_ctx 8192 --n_threads 2 --n_threads_batch 2,
--interrupt_requests False (otherwise a new request cuts the running stream short) and an explicit
--chat_format when the file has no chat template (hearth uses its built-in template then).
Tokens are counted from the final usage object when a server sends one (stream_options
include_usage), else as streamed content chunks. TTFT: request sent -> first non-empty content.
Prints a table with hearth/llama.cpp ratios, then one JSON object (also written to --json)."""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = [os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"), "/tmp/bench/qwen3-0.6b-shape-Q4_K_M.gguf"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, proc, timeout=600):
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


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stream_chat(session, base, content, n_predict):
    """One streaming chat request: returns dict(ttft_s, tokens, total_s, error)."""
    body = {"model": "m", "messages": [{"role": "user", "content": content}], "max_tokens": n_predict,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    ttft = None
    chunks = 0
    usage = None
    finished = False
    try:
        with session.post(base + "/v1/chat/completions", json=body, stream=True, timeout=900) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                if line == b"data: [DONE]":
                    finished = True
                    break
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for ch in chunk.get("choices") or []:
                    if (ch.get("delta") or {}).get("content"):
                        chunks += 1
                        if ttft is None:
                            ttft = time.perf_counter() - t0
    except requests.RequestException as e:
        return {"error": str(e)}
    if not finished:
        return {"error": "stream ended without [DONE]"}
    tokens = usage["completion_tokens"] if usage and usage.get("completion_tokens") else chunks
    total = time.perf_counter() - t0
    return {"ttft_s": ttft if ttft is not None else total, "tokens": tokens, "total_s": total, "error": None}


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_level(base, clients, per_client, n_predict):
    """`clients` threads, each sending `per_client` requests one after the other."""
    results = [[] for _ in range(clients)]

    def client(c):
        with requests.Session() as s:
            for r in range(per_client):
                results[c].append(stream_chat(s, base, f"Client {c} request {r}: write a short story about a "
                                                       f"lighthouse keeper named Ada.", n_predict))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    flat = [x for rs in results for x in rs]
    ok = [x for x in flat if not x["error"]]
    ttfts = [x["ttft_s"] * 1000 for x in ok] or [float("nan")]
    tokens = sum(x["tokens"] for x in ok)
    out = {"requests": len(flat), "failed": len(flat) - len(ok), "tokens": tokens,
           "tokens_per_request": round(tokens / max(1, len(ok)), 1), "wall_s": round(wall, 3),
           "tok_per_s": round(tokens / wall, 2), "ttft_p50_ms": round(percentile(ttfts, 50), 1),
           "ttft_p99_ms": round(percentile(ttfts, 99), 1)}
    errors = sorted({x["error"] for x in flat if x["error"]})
    if errors:
        out["errors"] = errors[:3]
    return out


def bench(base, levels, per_client, n_predict, label=""):
    with requests.Session() as s:
        for _ in range(2):  # warm-up: page in the weights, size the compute buffers
            stream_chat(s, base, "warm up", 8)
    out = {}
    for c in levels:
        out[str(c)] = run_level(base, c, per_client, n_predict)
        print(f"{label} {c} clients: {json.dumps(out[str(c)])}", file=sys.stderr, flush=True)
    return out


def run_hearth(args, model, levels):
    port = free_port()
    log = open(os.path.join(args.log_dir, f"hearth-{os.path.basename(model)}.log"), "w")
    cmd = [args.hearth, "serve", "-m", model, "--port", str(port), "-np", str(args.parallel), "-c", str(args.ctx_size),
           "-t", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        return {"command": " ".join(cmd),
                "levels": bench(base, levels, args.requests_per_client, args.n_predict, "hearth " + os.path.basename(model))}
    finally:
        stop(proc)
        log.close()


def has_chat_template(model):
    try:
        import gguf
        return "tokenizer.chat_template" in gguf.GGUFReader(model).fields
    except Exception:
        return False


def run_llama_cpp(args, model, levels):
    port = free_port()
    log = open(os.path.join(args.log_dir, f"llama_cpp-{os.path.basename(model)}.log"), "w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(args.ctx_size), "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
           "--interrupt_requests", "False", "--verbose", "False"]
    if not has_chat_template(model):
        cmd += ["--chat_format", "gemma" if "gemma" in os.path.basename(model).lower() else "chatml"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        return {"command": " ".join(cmd[1:]), "serializes_requests": True,
                "levels": bench(base, levels, args.requests_per_client, args.n_predict,
                                "llama.cpp " + os.path.basename(model))}
    finally:
        stop(proc)
        log.close()


def ratio(a, b):
    return round(a / b, 2) if a and b and b == b and a == a else None


def table(report):
    rows = ["| model | clients | hearth tok/s | llama.cpp tok/s | ratio | hearth TTFT p50 / p99 ms | "
            "llama.cpp TTFT p50 / p99 ms | TTFT p50 ratio (hearth/llama.cpp) | tokens/request h / l |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in report["models"]:
        h = m.get("hearth", {}).get("levels", {})
        l = m.get("llama_cpp_server", {}).get("levels", {})
        for c in map(str, report["levels"]):
            hc, lc = h.get(c, {}), l.get(c, {})
            r_tps = ratio(hc.get("tok_per_s"), lc.get("tok_per_s"))
            r_ttft = ratio(hc.get("ttft_p50_ms"), lc.get("ttft_p50_ms"))
            if r_tps is not None:
                m.setdefault("ratios", {})[c] = {"tok_per_s": r_tps, "ttft_p50": r_ttft}
            fmt = lambda d: f"{d.get('ttft_p50_ms', '-')} / {d.get('ttft_p99_ms', '-')}" if d else "-"
            rows.append(f"| {m['model']} | {c} | {hc.get('tok_per_s', '-')} | {lc.get('tok_per_s', '-')} | "
                        f"{r_tps if r_tps is not None else '-'} | {fmt(hc)} | {fmt(lc)} | "
                        f"{r_ttft if r_ttft is not None else '-'} | "
                        f"{hc.get('tokens_per_request', '-')} / {lc.get('tokens_per_request', '-')} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", action="append", help="GGUF file (repeatable); default: Gemma 3 270M and "
                                                           "the Qwen3-0.6B-shaped Q4_K_M file")
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    ap.add_argument("--url", help="benchmark this running server only")
    ap.add_argument("--no-llama-cpp", action="store_true", help="skip python -m llama_cpp.server")
    ap.add_argument("--no-hearth", action="store_true", help="skip hearth serve")
    ap.add_argument("--levels", default="1,4,8", help="concurrent clients, comma-separated")
    ap.add_argument("--requests-per-client", type=int, default=2)
    ap.add_argument("--n-predict", type=int, default=64)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-np", "--parallel", type=int, default=8, help="hearth slots")
    ap.add_argument("-c", "--ctx-size", type=int, default=8192, help="total context (hearth: split over slots)")
    ap.add_argument("--json", help="also write the JSON report here")
    ap.add_argument("--log-dir", default="/tmp", help="server logs go here")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    report = {"n_predict": args.n_predict, "threads": args.threads, "parallel": args.parallel,
              "ctx_size": args.ctx_size, "requests_per_client": args.requests_per_client, "levels": levels,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": []}
    if args.url:
        report["models"].append({"model": args.url, "hearth": {"levels": bench(args.url.rstrip("/"), levels,
                                                                                 args.requests_per_client,
                                                                                 args.n_predict)}})
    else:
        for model in args.model or DEFAULT_MODELS:
            if not os.path.exists(model):
                print(f"skipping {model}: not found", file=sys.stderr)
                continue
            entry = {"model": os.path.basename(model)}
            if not args.no_hearth:
                entry["hearth"] = run_hearth(args, model, levels)
            if not args.no_llama_cpp:
                entry["llama_cpp_server"] = run_llama_cpp(args, model, levels)
            report["models"].append(entry)
    text = table(report)
    print(text)
    out = json.dumps(report, indent=2)
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")


if __name__ == "__main__":
    main()
