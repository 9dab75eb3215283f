# `hearth embed` end to end: vectors match llama.cpp (llama-cpp-python on the same GGUF, last and
# mean pooling, L2-normalised), output formats (text, array, json, json+), normalisation modes,
# pooling none (one row per token) and the exit codes for bad input.
import json
import math
import os
import subprocess

import pytest

BIN = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
MODELS = os.path.join(SHARED, "models")
QWEN = os.path.join(MODELS, "tiny-qwen3-bpe-f16.gguf")
QWEN_Q4 = os.path.join(MODELS, "tiny-qwen3-bpe-Q4_K_M.gguf")

if not os.path.exists(BIN) or not os.path.exists(QWEN):
    pytest.skip("hearth binary or shared models missing", allow_module_level=True)

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Embeddings map text to vectors; similar texts get similar vectors.",
    "1 + 1 = 2",
    "a",
    "Ünïcödé façade — naïve café ☕",
]


def embed(*args, texts=TEXTS, model=QWEN):
    cmd = [BIN, "embed", "-m", model, "-t", "2", *args]
    for t in texts:
        cmd += ["-p", t]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.parametrize("model", [QWEN, QWEN_Q4])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_matches_llama_cpp(model, pooling):
    llama_cpp = pytest.importorskip("llama_cpp")
    ptype = {"last": llama_cpp.LLAMA_POOLING_TYPE_LAST, "mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN}[pooling]
    ref_model = llama_cpp.Llama(model, embedding=True, pooling_type=ptype, n_ctx=512, n_threads=2, verbose=False)
    ref = ref_model.embed(TEXTS, normalize=True)
    r = embed("--pooling", pooling, "--embd-output-format", "array", model=model)
    assert r.returncode == 0, r.stderr
    ours = json.loads(r.stdout)
    assert len(ours) == len(TEXTS)
    # llama.cpp rounds activations to 8 bits for quantized weights; hearth's kernels round differently.
    min_cos, max_abs = (0.9999, 2e-3) if model == QWEN else (0.998, 2e-2)
    for text, a, b in zip(TEXTS, ours, ref):
        assert len(a) == len(b) == 256
        assert cos(a, b) > min_cos, text
        assert max(abs(x - y) for x, y in zip(a, b)) < max_abs, text


def test_json_plus_has_similarity_matrix():
    r = embed("--embd-output-format", "json+")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["object"] == "list"
    assert [d["index"] for d in out["data"]] == list(range(len(TEXTS)))
    sim = out["cosineSimilarity"]
    assert len(sim) == len(TEXTS) and all(len(row) == len(TEXTS) for row in sim)
    for i in range(len(TEXTS)):
        assert abs(sim[i][i] - 1.0) < 1e-5
        for j in range(len(TEXTS)):
            assert abs(sim[i][j] - cos(out["data"][i]["embedding"], out["data"][j]["embedding"])) < 1e-5


def test_normalize_modes_and_text_output():
    r = embed("--embd-normalize", "-1", "--embd-output-format", "array", texts=TEXTS[:1])
    raw = json.loads(r.stdout)[0]
    for mode, norm in [(1, sum(abs(x) for x in raw)), (2, math.sqrt(sum(x * x for x in raw))),
                       (0, max(abs(x) for x in raw) / 32760.0), (3, sum(abs(x) ** 3 for x in raw) ** (1 / 3))]:
        r = embed("--embd-normalize", str(mode), "--embd-output-format", "array", texts=TEXTS[:1])
        v = json.loads(r.stdout)[0]
        for x, y in zip(v, raw):
            assert abs(x - y / norm) < 1e-3 * max(1.0, abs(y / norm))
    r = embed(texts=TEXTS[:2])
    lines = r.stdout.splitlines()
    assert lines[0].startswith("embedding 0:") and len(lines[0].split()) == 2 + 256
    assert lines[1].startswith("embedding 1:")


def test_pooling_none_gives_one_row_per_token():
    r = embed("--pooling", "none", "--embd-output-format", "json", texts=["one two three"])
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)["data"][0]["embedding"]
    assert len(v) % 256 == 0 and len(v) // 256 >= 3


def test_device_none_runs_from_ram():
    r = embed("--device", "none", "-ngl", "0", texts=TEXTS[:1])
    assert r.returncode == 0, r.stderr
    assert "CPU" in r.stderr


def test_bad_input_exit_codes():
    assert embed("--pooling", "avg").returncode == 2
    assert embed("--embd-output-format", "xml").returncode == 2
    assert embed("--device", "cuda0").returncode == 2
    assert embed(texts=[]).returncode == 1
    assert embed("--bogus").returncode == 1
    assert embed(model=os.path.join(SHARED, "README.md")).returncode == 2
    r = embed("-c", "8", texts=["word " * 50])
    assert r.returncode == 2 and "context" in r.stderr


def test_run_accepts_ram_only_flags():
    r = subprocess.run([BIN, "run", "-m", QWEN, "-p", "Hi", "-n", "2", "--temp", "0", "-t", "2", "--device", "none", "-ngl", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "CPU" in r.stderr
    r = subprocess.run([BIN, "run", "-m", QWEN, "-p", "Hi", "-n", "1", "--device", "cuda0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--device" in r.stderr
