# Context shift end to end through the `hearth` binary: `hearth run` with a tiny -c and
# --context-shift generates far more tokens than the context holds (identical to an unshifted run
# until the first shift), without it the run stops with the "context full" message; `hearth serve`
# with --context-shift finishes a long completion by max_tokens instead of "length" at the context.
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

BIN = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
QWEN = os.path.join(SHARED, "models", "tiny-qwen3-bpe-f16.gguf")
LLAMA = os.path.join(SHARED, "models", "tiny-llama-spm-f16.gguf")

if not os.path.exists(BIN) or not os.path.exists(QWEN):
    pytest.skip("hearth binary or shared models missing", allow_module_level=True)


def run_json(model, *args):
    r = subprocess.run([BIN, "run", "-m", model, "-p", "The quick brown fox", "--temp", "0", "-t", "2",
                        "--output-format", "json", *args], capture_output=True, text=True, timeout=300)
    tokens = [json.loads(l)["id"] for l in r.stdout.splitlines() if l.strip()]
    return r, tokens


@pytest.mark.parametrize("model", [QWEN, LLAMA])
def test_run_context_shift_generates_past_the_context(model):
    if not os.path.exists(model):
        pytest.skip("no " + model)
    r, toks = run_json(model, "-c", "32", "-n", "100", "--context-shift", "--keep", "2")
    assert r.returncode == 0, r.stderr
    # Random weights may emit an end-of-generation token; the models used here do not within 100.
    assert len(toks) == 100, r.stderr
    assert "context shifts:" in r.stderr
    assert "context full" not in r.stderr

    # Until the first shift the run is the same as one with room to spare.
    # The prompt is at most 6 tokens (BOS included), so no shift happens in the first 20.
    r_big, toks_big = run_json(model, "-c", "256", "-n", "20")
    assert r_big.returncode == 0, r_big.stderr
    assert toks[:20] == toks_big


def test_run_without_context_shift_stops_with_message():
    r, toks = run_json(QWEN, "-c", "32", "-n", "100")
    assert r.returncode == 0, r.stderr
    assert len(toks) < 32
    assert "context full (n_ctx = 32)" in r.stderr
    assert "--context-shift" in r.stderr


def test_run_keep_whole_prompt_and_bad_keep():
    r, toks = run_json(LLAMA if os.path.exists(LLAMA) else QWEN, "-c", "24", "-n", "60", "--context-shift", "--keep", "-1")
    assert r.returncode == 0, r.stderr
    assert len(toks) == 60
    r = subprocess.run([BIN, "run", "-m", QWEN, "-p", "x", "--keep", "-5"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--keep" in r.stderr


def completion(base, max_tokens):
    import requests
    r = requests.post(base + "/v1/completions", json={"prompt": "The quick brown fox", "max_tokens": max_tokens,
                                                      "temperature": 0}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("shift", [False, True])
def test_serve_context_shift(shift):
    pytest.importorskip("requests")
    from server_process import start_server, stop_server
    extra = ["-m", QWEN, "-c", "32"] + (["--context-shift", "--keep", "1"] if shift else [])
    proc, base = start_server(extra)
    try:
        j = completion(base, 90)
        n = j["usage"]["completion_tokens"]
        assert j["choices"][0]["finish_reason"] == "length"
        if shift:
            assert n == 90  # ended by max_tokens, far past the 32-token context
            import requests
            slots = requests.get(base + "/slots", timeout=10).json()
            assert slots[0]["n_shifts"] >= 3, slots
            assert slots[0]["n_past"] <= 32
            # The slot still serves a fresh request normally afterwards.
            assert completion(base, 5)["usage"]["completion_tokens"] == 5
        else:
            assert n < 32  # the context ended it
    finally:
        stop_server(proc)
