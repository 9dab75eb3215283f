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


def test_convert_hf_nomic_bert(tmp_path):
    """`hearth convert` of a nomic_bert checkpoint (nomic-embed-text's names and config keys; random
    weights, small vocab): per-token states equal the NumPy forward over the Hugging Face tensors."""
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = ["search_query", "what", "is", "the", "capital", "of", "france", "paris", "a", "city"]
    E, L, H, F = 32, 2, 4, 48
    V = len(special) + len(words)
    rng = np.random.default_rng(5)
    g = lambda *s, sd=0.2: rng.normal(0.0, sd, s)  # noqa: E731
    t = {"embeddings.word_embeddings.weight": g(V, E, sd=0.5), "embeddings.token_type_embeddings.weight": g(2, E, sd=0.5),
         "emb_ln.weight": 1 + g(E, sd=0.1), "emb_ln.bias": g(E, sd=0.1)}
    for il in range(L):
        p = f"encoder.layers.{il}."
        t[p + "attn.Wqkv.weight"], t[p + "attn.out_proj.weight"] = g(3 * E, E), g(E, E)
        t[p + "mlp.fc11.weight"], t[p + "mlp.fc12.weight"], t[p + "mlp.fc2.weight"] = g(F, E), g(F, E), g(E, F)
        for n in ("norm1", "norm2"):
            t[p + n + ".weight"], t[p + n + ".bias"] = 1 + g(E, sd=0.1), g(E, sd=0.1)
    d = tmp_path / "hf"
    d.mkdir()
    ref.write_safetensors(str(d / "model.safetensors"), t)
    (d / "vocab.txt").write_text("\n".join(special + words) + "\n")
    (d / "config.json").write_text(json.dumps({
        "model_type": "nomic_bert", "n_embd": E, "n_layer": L, "n_head": H, "n_inner": F, "n_positions": 2048,
        "rotary_emb_base": 1000, "rotary_emb_fraction": 1.0, "layer_norm_epsilon": 1e-12, "type_vocab_size": 2,
        "activation_function": "swiglu", "vocab_size": V}))
    out = str(tmp_path / "nomic.gguf")
    r = subprocess.run([BIN, "convert", str(d), out, "--outtype", "f32"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    W = {k: v.astype(np.float64) for k, v in t.items()}
    w = {"token_embd.weight": W["embeddings.word_embeddings.weight"], "token_types.weight": W["embeddings.token_type_embeddings.weight"],
         "token_embd_norm.weight": W["emb_ln.weight"], "token_embd_norm.bias": W["emb_ln.bias"]}
    for il in range(L):
        p, b = f"encoder.layers.{il}.", f"blk.{il}."
        for gn, hn in (("attn_qkv", "attn.Wqkv"), ("attn_output", "attn.out_proj"), ("ffn_up", "mlp.fc11"), ("ffn_gate", "mlp.fc12"),
                       ("ffn_down", "mlp.fc2"), ("attn_output_norm", "norm1"), ("layer_output_norm", "norm2")):
            w[b + gn + ".weight"] = W[p + hn + ".weight"]
            if hn.startswith("norm"):
                w[b + gn + ".bias"] = W[p + hn + ".bias"]
    vocab = {x: i for i, x in enumerate(special + words)}
    texts = ["what is the capital of france", "paris is a city"]
    got = embed(out, texts, "--pooling", "none")
    for text, rows in zip(texts, got):
        ids = np.array([vocab["[CLS]"]] + [vocab[x] for x in text.split()] + [vocab["[SEP]"]])
        want = ref.nomic_bert_forward(w, ids, np.zeros(len(ids), dtype=int), H, 1e-12, 1000.0)
        assert np.abs(np.array(rows).reshape(want.shape) - want).max() < 3e-3 * max(1.0, np.abs(want).max()), text
