"""`hearth serve --embedding` through the real `openai` client and raw HTTP: /v1/embeddings with a
string, strings and token arrays, base64 encoding, usage, vectors equal to `hearth embed`; native
/embedding with pooling none (one vector per token); 400 for bad input; 501 without --embedding.
Only 127.0.0.1 is contacted."""
import base64
import json
import os
import struct
import subprocess

import openai
import pytest
import requests

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
MODEL = os.path.join(SHARED, "models", "tiny-qwen3-bpe-f16.gguf")

if not os.path.exists(BIN) or not os.path.exists(MODEL):
    pytest.skip("hearth binary or shared models missing", allow_module_level=True)


import server_process  # noqa: E402
from server_process import stop_server  # noqa: E402,F401


def start_server(extra, timeout=60):
    """hearth serve on the tiny qwen3 unless extra has -m; returns (process, base_url)."""
    model = [] if "-m" in extra else ["-m", MODEL]
    return server_process.start_server(model + extra, timeout)


@pytest.fixture(scope="module")
def server():
    proc, base = start_server(["--embedding", "--pooling", "mean", "--device", "none", "-ngl", "0"])
    yield base
    stop_server(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="none", max_retries=0, timeout=60)


def cli_embed(texts, *extra):
    cmd = [BIN, "embed", "-m", MODEL, "-t", "2", "--pooling", "mean", "--embd-output-format", "array", *extra]
    for t in texts:
        cmd += ["-p", t]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def close(a, b, tol=1e-5):
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tol


def test_openai_client_strings(client):
    texts = ["hello world", "The quick brown fox jumps over the lazy dog.", "a"]
    r = client.embeddings.create(model="x", input=texts)
    assert [d.index for d in r.data] == [0, 1, 2]
    assert r.usage.prompt_tokens == r.usage.total_tokens > 3
    ref = cli_embed(texts)
    for d, v in zip(r.data, ref):
        assert close(d.embedding, v)
    single = client.embeddings.create(model="x", input="hello world")
    assert len(single.data) == 1 and close(single.data[0].embedding, ref[0])


def test_openai_client_base64_and_tokens(client, server):
    # The openai client asks for base64 by default and decodes it; check the raw payload too.
    r = requests.post(server + "/v1/embeddings", json={"input": "hello world", "encoding_format": "base64"}, timeout=60)
    assert r.status_code == 200, r.text
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    vec = list(struct.unpack("<%df" % (len(raw) // 4), raw))
    assert close(vec, cli_embed(["hello world"])[0])
    toks = requests.post(server + "/tokenize", json={"content": "hello world"}, timeout=60).json()["tokens"]
    by_ids = client.embeddings.create(model="x", input=[toks, toks])
    assert close(by_ids.data[0].embedding, vec) and close(by_ids.data[1].embedding, vec)
    one = client.embeddings.create(model="x", input=toks)
    assert len(one.data) == 1 and close(one.data[0].embedding, vec)


def test_bad_input_is_400(server):
    for body in [{}, {"input": 5}, {"input": []}, {"input": [[]]}, {"input": [1, "a"]}, {"input": [[10**9]]},
                 {"input": "x", "encoding_format": "hex"}, {"input": ""}]:
        r = requests.post(server + "/v1/embeddings", json=body, timeout=60)
        assert r.status_code == 400, (body, r.text)
        assert "error" in r.json()
    r = requests.post(server + "/v1/embeddings", data="{not json", timeout=60)
    assert r.status_code == 400


def test_native_embedding_pooling_none():
    proc, base = start_server(["--embedding", "--pooling", "none"])
    try:
        r = requests.post(base + "/embedding", json={"content": "one two three"}, timeout=60)
        assert r.status_code == 200, r.text
        rows = r.json()[0]["embedding"]
        assert len(rows) >= 3 and all(len(x) == 256 for x in rows)
        r = requests.post(base + "/v1/embeddings", json={"input": "one"}, timeout=60)
        assert r.status_code == 400 and "none" in r.json()["error"]["message"]
    finally:
        stop_server(proc)


def test_without_embedding_flag_is_501():
    proc, base = start_server([])
    try:
        r = requests.post(base + "/v1/embeddings", json={"input": "hi"}, timeout=60)
        assert r.status_code == 501 and "--embedding" in r.json()["error"]["message"]
    finally:
        stop_server(proc)
