#!/usr/bin/env python3
"""Peak RSS and load-to-first-token time of hearth and llama.cpp (llama-cpp-python) on the same GGUF,
in one run, at several context sizes (-c; 0 = the model's trained length, each engine's default).
Each engine runs in its own child process: load the model with mmap, create a context, evaluate a
short prompt and generate one token; the child's ru_maxrss is its peak RSS.

    python3 bench/memory_compare.py -m FILE [-c 4096 -c 0] [-t 2]

Prints a markdown table and, last, one JSON line with every figure.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LLAMA_CHILD = r'''
import sys, time
t0 = time.perf_counter()
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=int(sys.argv[2]), n_threads=int(sys.argv[3]), verbose=False)
llm.eval(llm.tokenize(b"The capital of France is"))
llm.sample(temp=0.0)
print(time.perf_counter() - t0)
'''


def child_peak(cmd):
    """Runs cmd (output discarded), returns (peak RSS in MiB of that child, wall seconds)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[0]} failed with status {status}")
    return usage.ru_maxrss / 1024.0, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-c", "--ctx", type=int, action="append", help="context sizes (0 = trained length)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    args = ap.parse_args()
    ctxs = args.ctx or [4096, 0]
    size_mib = os.path.getsize(args.model) / 2**20
    rows = []
    for c in ctxs:
        h_rss, h_wall = child_peak([args.hearth, "run", "-m", args.model, "-c", str(c), "-t", str(args.threads),
                                    "-p", "The capital of France is", "-n", "1", "--temp", "0"])
        try:
            l_rss, l_wall = child_peak([sys.executable, "-c", LLAMA_CHILD, args.model, str(c), str(args.threads)])
        except Exception as e:  # llama-cpp-python missing or failing: report hearth alone
            print(f"llama.cpp: {e}", file=sys.stderr)
            l_rss, l_wall = float("nan"), float("nan")
        rows.append({"n_ctx": c, "file_mib": size_mib, "hearth_rss_mib": h_rss, "llamacpp_rss_mib": l_rss,
                     "hearth_load_first_token_s": h_wall, "llamacpp_load_first_token_s": l_wall})
    print("| -c | file MiB | hearth peak RSS MiB | llama.cpp peak RSS MiB | hearth load→1st token s | llama.cpp load→1st token s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n_ctx'] or 'default'} | {r['file_mib']:.0f} | {r['hearth_rss_mib']:.0f} | {r['llamacpp_rss_mib']:.0f} | "
              f"{r['hearth_load_first_token_s']:.2f} | {r['llamacpp_load_first_token_s']:.2f} |")
    print(json.dumps({"model": args.model, "rows": rows}))


if __name__ == "__main__":
    main()
