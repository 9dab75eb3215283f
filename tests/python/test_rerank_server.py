"""Reranking end to end on a synthetic bert cross-encoder (`hearth gen-model --arch bert --rerank`):
`hearth embed --rerank` and POST /rerank, /v1/rerank, /v1/reranking against a float64 NumPy forward
of the same GGUF weights (token types 0 for [CLS] query [SEP], 1 for document [SEP]; pooler + tanh +
classifier on the CLS row); sorting, top_n, return_documents, usage; 400 without --rerank or without a
rank head, 400 for bad bodies. Only 127.0.0.1 is contacted."""
import json
import os
import subprocess

import numpy as np
import pytest
import requests

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
VOCAB = os.path.join(SHARED, "vocab", "ggml-vocab-bert-bge.gguf")

if not os.path.exists(BIN) or not os.path.exists(VOCAB):
    pytest.skip("hearth binary or shared vocab missing", allow_module_level=True)
pytest.importorskip("gguf")

import encoder_reference as ref  # noqa: E402
import server_process  # noqa: E402
from server_process import stop_server  # noqa: E402

QUERY = "what is the capital of france"
DOCS = ["paris is the capital of france", "the cat sat on the mat", "berlin is in germany",
        "france is a country in europe", "a b c", "capital letters are big"]


def gen(path, *extra):
    r = subprocess.run([BIN, "gen-model", "--arch", "bert", "--vocab", VOCAB, "--n-ctx", "128", "--n-layer", "2",
                        "--type", "f32", *extra, path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("rerank")
    ce, plain = str(d / "ce.gguf"), str(d / "plain.gguf")
    gen(ce, "--rerank", "--seed", "7")
    gen(plain)
    return ce, plain


def tokens(model, text, *extra):
    r = subprocess.run([BIN, "tokenize", "-m", model, "-p", text, "--ids", *extra], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def reference_scores(model, query, docs):
    w, meta = ref.read_gguf(model)
    q = tokens(model, query)  # [CLS] query [SEP]
    out = []
    for d in docs:
        doc = tokens(model, d, "--no-bos") + [q[-1]]  # document [SEP]
        ids, types = np.array(q + doc), np.array([0] * len(q) + [1] * len(doc))
        x = ref.bert_forward(w, ids, types, meta["bert.attention.head_count"], meta["bert.attention.layer_norm_epsilon"])
        out.append(ref.rank_score(w, x[0]))
    return out


def close(got, want):
    # The KV cache holds K/V in f16: ~1e-3 relative on activations of order 1.
    return all(abs(g - w) <= 2e-3 * max(1.0, abs(w)) for g, w in zip(got, want)) and len(got) == len(want)


def cli_rerank(model, query, docs, *extra):
    cmd = [BIN, "embed", "-m", model, "-t", "2", "--rerank", "-q", query, *extra]
    for d in docs:
        cmd += ["-p", d]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_cli_matches_numpy_reference(models):
    ce, _ = models
    r = cli_rerank(ce, QUERY, DOCS, "--embd-output-format", "array")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    want = reference_scores(ce, QUERY, DOCS)
    assert close(got, want), (got, want)
    # token types matter: the scores differ from a single-segment reading of the same tokens
    assert len(set(round(s, 6) for s in got)) == len(got)


def test_cli_text_and_json_formats(models):
    ce, _ = models
    r = cli_rerank(ce, QUERY, DOCS[:3])
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("rerank score")]
    assert len(lines) == 3 and lines[0].startswith("rerank score 0:")
    r = cli_rerank(ce, QUERY, DOCS[:3], "--embd-output-format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["results"]
    assert sorted(x["index"] for x in res) == [0, 1, 2]
    assert all(a["relevance_score"] >= b["relevance_score"] for a, b in zip(res, res[1:]))


def test_cli_errors(models):
    ce, plain = models
    assert cli_rerank(plain, QUERY, DOCS[:2]).returncode == 2  # no rank head
    r = subprocess.run([BIN, "embed", "-m", ce, "--rerank", "-p", "x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1  # --rerank without -q
    assert cli_rerank(ce, QUERY, DOCS[:2], "--pooling", "mean").returncode == 2


@pytest.fixture(scope="module")
def server(models):
    proc, base = server_process.start_server(["-m", models[0], "--rerank"])
    yield base
    stop_server(proc)


def test_rerank_endpoint_sorted_and_matches_reference(server, models):
    want = reference_scores(models[0], QUERY, DOCS)
    for path in ("/v1/rerank", "/rerank", "/v1/reranking"):
        r = requests.post(server + path, json={"query": QUERY, "documents": DOCS}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "list" and body["model"] == "ce.gguf"
        res = body["results"]
        assert len(res) == len(DOCS)
        assert [x["index"] for x in res] == sorted(range(len(DOCS)), key=lambda i: -want[i])
        got = [0.0] * len(DOCS)
        for x in res:
            got[x["index"]] = x["relevance_score"]
            assert "document" not in x
        assert close(got, want), (got, want)
        assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0


def test_top_n_and_return_documents(server):
    r = requests.post(server + "/v1/rerank", json={"query": QUERY, "documents": DOCS, "top_n": 2, "return_documents": True},
                      timeout=60)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 2
    for x in res:
        assert x["document"]["text"] == DOCS[x["index"]]
    full = requests.post(server + "/v1/rerank", json={"query": QUERY, "documents": DOCS}, timeout=60).json()["results"]
    assert [x["index"] for x in res] == [x["index"] for x in full[:2]]
    # documents as {"text": ...} objects give the same scores
    r2 = requests.post(server + "/v1/rerank", json={"query": QUERY, "documents": [{"text": d} for d in DOCS]}, timeout=60)
    assert r2.status_code == 200 and r2.json()["results"] == full


def test_usage_counts_pair_tokens(server, models):
    q = tokens(models[0], QUERY)
    n = sum(len(q) + len(tokens(models[0], d, "--no-bos")) + 1 for d in DOCS[:2])
    r = requests.post(server + "/v1/rerank", json={"query": QUERY, "documents": DOCS[:2]}, timeout=60)
    assert r.json()["usage"]["prompt_tokens"] == n


@pytest.mark.parametrize("body,field", [
    ({"documents": ["a"]}, "query"),
    ({"query": 3, "documents": ["a"]}, "query"),
    ({"query": "q"}, "documents"),
    ({"query": "q", "documents": []}, "documents"),
    ({"query": "q", "documents": "a"}, "documents"),
    ({"query": "q", "documents": [1, 2]}, "documents"),
    ({"query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
    ({"query": "q", "documents": ["a"], "top_n": "2"}, "top_n"),
    ({"query": "q", "documents": ["a"], "return_documents": "yes"}, "return_documents"),
])
def test_bad_bodies_are_400(server, body, field):
    r = requests.post(server + "/v1/rerank", json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


def test_too_long_pair_is_400(server):
    r = requests.post(server + "/v1/rerank", json={"query": QUERY, "documents": ["word " * 600]}, timeout=30)
    assert r.status_code == 400, r.text


def test_400_without_rerank_flag_or_rank_head(models):
    ce, plain = models
    for args, needle in ((["-m", ce, "--embedding"], "--rerank"), (["-m", plain, "--rerank"], "rank head")):
        proc, base = server_process.start_server(args)
        try:
            r = requests.post(base + "/v1/rerank", json={"query": "q", "documents": ["a"]}, timeout=30)
            assert r.status_code == 400, r.text
            assert needle in r.json()["error"]["message"]
            # the encoder still embeds
            e = requests.post(base + "/v1/embeddings", json={"input": "hello"}, timeout=30)
            assert e.status_code == 200, e.text
        finally:
            stop_server(proc)


def test_causal_lm_reranks_with_yes_no_logits():
    """A causal LM without cls tensors (Qwen3-Reranker style): /v1/rerank scores are its
    logit("yes") - logit("no") after the judgement prompt, equal to `hearth embed --rerank`."""
    qwen = os.path.join(SHARED, "models", "tiny-qwen3-bpe-f16.gguf")
    if not os.path.exists(qwen):
        pytest.skip("tiny qwen3 missing")
    docs = ["Paris is the capital of France.", "The cat sat on the mat.", "Berlin is in Germany."]
    r = cli_rerank(qwen, "What is the capital of France?", docs, "--embd-output-format", "array")
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    proc, base = server_process.start_server(["-m", qwen, "--rerank"])
    try:
        res = requests.post(base + "/v1/rerank", json={"query": "What is the capital of France?", "documents": docs},
                            timeout=60)
        assert res.status_code == 200, res.text
        got = {x["index"]: x["relevance_score"] for x in res.json()["results"]}
        for i, w in enumerate(want):
            assert abs(got[i] - w) < 1e-4
        # the generation endpoints still work beside it
        c = requests.post(base + "/v1/completions", json={"prompt": "hello", "max_tokens": 2}, timeout=60)
        assert c.status_code == 200, c.text
    finally:
        stop_server(proc)
