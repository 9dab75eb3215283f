"""nomic-bert (nomic-embed-text layout: rotary NeoX positions, fused attn_qkv, SwiGLU, post-LayerNorm,
no biases) on synthetic weights from `hearth gen-model --arch nomic-bert`: per-token hidden states and
mean-pooled vectors of `hearth embed` against a float64 NumPy forward of the same GGUF (read with the
gguf package); quantized weights stay close; batching several texts changes nothing."""
import json
import os
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
VOCAB = os.path.join(SHARED, "vocab", "ggml-vocab-bert-bge.gguf")

if not os.path.exists(BIN) or not os.path.exists(VOCAB):
    pytest.skip("hearth binary or shared vocab missing", allow_module_level=True)
pytest.importorskip("gguf")

import encoder_reference as ref  # noqa: E402

TEXTS = ["search_query: what is the capital of france", "search_document: Paris is the capital of France.",
         "a", "The quick brown fox jumps over the lazy dog, again and again and again."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("nomic")
    out = {}
    for t in ("f32", "q8_0"):
        out[t] = str(d / f"nomic-{t}.gguf")
        r = subprocess.run([BIN, "gen-model", "--arch", "nomic-bert", "--vocab", VOCAB, "--n-ctx", "2048", "--n-layer", "2",
                            "--n-embd", "64", "--n-head", "4", "--head-dim", "16", "--n-ff", "96", "--rope-base", "1000",
                            "--type", t, out[t]], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    return out


def embed(model, texts, *extra):
    cmd = [BIN, "embed", "-m", model, "-t", "2", "--embd-output-format", "array", *extra]
    for t in texts:
        cmd += ["-p", t]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def reference_hidden(model, text):
    w, meta = ref.read_gguf(model)
    r = subprocess.run([BIN, "tokenize", "-m", model, "-p", text, "--ids"], capture_output=True, text=True, timeout=60)
    ids = np.array(json.loads(r.stdout))
    return ref.nomic_bert_forward(w, ids, np.zeros(len(ids), dtype=int), meta["nomic-bert.attention.head_count"],
                                  meta["nomic-bert.attention.layer_norm_epsilon"], meta["nomic-bert.rope.freq_base"])


def test_hidden_states_match_numpy(models):
    got = embed(models["f32"], TEXTS, "--pooling", "none")
    for text, rows in zip(TEXTS, got):
        want = reference_hidden(models["f32"], text)
        h = np.array(rows).reshape(want.shape)
        assert np.abs(h - want).max() < 3e-3 * max(1.0, np.abs(want).max()), text


def test_mean_pooling_matches_and_positions_matter(models):
    got = embed(models["f32"], TEXTS, "--pooling", "mean", "--embd-normalize", "-1")
    for text, v in zip(TEXTS, got):
        want = reference_hidden(models["f32"], text).mean(0)
        assert np.abs(np.array(v) - want).max() < 3e-3 * max(1.0, np.abs(want).max())
    # rotary positions: reordering words changes the vector (a bag of words would not)
    a, b = embed(models["f32"], ["red green blue", "blue green red"], "--pooling", "mean")
    assert np.abs(np.array(a) - np.array(b)).max() > 1e-3


def test_batching_and_quantized_weights(models):
    together = embed(models["q8_0"], TEXTS)
    for text, v in zip(TEXTS, together):
        alone = embed(models["q8_0"], [text])[0]
        assert np.abs(np.array(v) - np.array(alone)).max() < 1e-5
    f32 = embed(models["f32"], TEXTS)
    for a, b in zip(together, f32):
        assert float(np.dot(a, b)) > 0.99  # L2-normalised: cosine


def test_llama_cpp_reads_the_same_model(models):
    """llama.cpp (llama-cpp-python) runs the same synthetic nomic-bert file: mean-pooled, L2-normalised
    vectors agree (same keys, tensor layout, rope kind and SwiGLU roles)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(models["f32"], embedding=True, pooling_type=1, n_ctx=512, n_threads=2, verbose=False)
    ours = embed(models["f32"], TEXTS, "--pooling", "mean")
    for text, v in zip(TEXTS, ours):
        theirs = np.array(llm.embed(text, normalize=True))
        assert np.abs(np.array(v) - theirs).max() < 1e-3, text
