# Tests of `hearth tokenize`: ids match the llama.cpp golden prompt tokens of the shared models,
# --ids / --no-bos / --no-parse-special / -f behave as documented, and bad input exits 1 or 2.
import json
import os
import subprocess

import pytest

HEARTH = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", "../shared")
QWEN = os.path.join(SHARED, "models", "tiny-qwen3-bpe-f16.gguf")
LLAMA = os.path.join(SHARED, "models", "tiny-llama-spm-f16.gguf")


def tokenize(*args, ok=True):
    proc = subprocess.run([HEARTH, "tokenize", *args], capture_output=True, timeout=120)
    if ok:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def ids(*args):
    return json.loads(tokenize(*args, "--ids").stdout)


@pytest.mark.parametrize("model", ["tiny-qwen3-bpe-f16", "tiny-llama-spm-f16"])
def test_matches_golden(model):
    with open(os.path.join(SHARED, "golden", f"completions-{model}.json")) as f:
        golden = json.load(f)
    path = os.path.join(SHARED, "models", model + ".gguf")
    for case in golden["cases"]:
        assert ids("-m", path, "-p", case["prompt"]) == case["prompt_tokens"], case["prompt"]


def test_default_output_lines():
    out = tokenize("-m", LLAMA, "-p", "Hello\nworld").stdout.decode()
    lines = out.splitlines()
    assert lines[0].split() == ["1", "->", "'<s>'"]
    assert any(line.endswith("-> '\\n'") for line in lines)
    assert all(" -> '" in line for line in lines)


def test_flags(tmp_path):
    assert ids("-m", LLAMA, "-p", "Hi")[0] == 1
    assert ids("-m", LLAMA, "-p", "Hi", "--no-bos")[0] != 1
    assert ids("-m", QWEN, "-p", "a<|endoftext|>") == [64, 50256]
    assert 50256 not in ids("-m", QWEN, "-p", "a<|endoftext|>", "--no-parse-special")
    text_file = tmp_path / "t.txt"
    text_file.write_bytes(b"caf\xc3\xa9 \xff bytes")
    assert ids("-m", QWEN, "-f", str(text_file)) == ids("-m", QWEN, "-p", "caf\u00e9 \ufffd bytes")


def test_bad_input():
    assert tokenize("-m", QWEN, ok=False).returncode == 1  # no text
    assert tokenize("-p", "x", ok=False).returncode == 1  # no model
    assert tokenize("-m", QWEN, "-p", "x", "--bogus", ok=False).returncode == 1
    proc = tokenize("-m", os.path.join(SHARED, "golden", "peers.md"), "-p", "x", ok=False)
    assert proc.returncode == 2 and proc.stderr
    proc = tokenize("-m", "/nonexistent.gguf", "-p", "x", ok=False)
    assert proc.returncode == 2
