# Tests of `hearth info`: on every shared model (and the default Gemma model when fetched) its JSON
# agrees with the `gguf` package's GGUFReader (tensor names, types, shapes, offsets, sizes, KV count),
# and truncated/garbage files exit 2 with the reader's specific message instead of crashing.
import glob
import json
import os
import subprocess

import gguf
import pytest

HEARTH = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", "../shared")
ROOT = os.environ.get("HEARTH_ROOT", ".")
DEFAULT_MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")

SHARED_MODELS = sorted(glob.glob(os.path.join(SHARED, "models", "*.gguf")))


def run_info(*args):
    return subprocess.run([HEARTH, "info", *args], capture_output=True, text=True, timeout=120)


def info_json(path, *flags):
    proc = run_info(path, "--json", *flags)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check_against_reader(path, report):
    reader = gguf.GGUFReader(path)
    assert report["n_tensors"] == len(reader.tensors)
    assert report["n_kv"] == len(reader.fields) - 3  # GGUFReader adds 3 header pseudo-fields
    assert report["file_size"] == os.path.getsize(path)
    assert report["data_offset"] == reader.data_offset
    by_type = {}
    params = 0
    for ours, ref in zip(report["tensors"], reader.tensors):
        assert ours["name"] == ref.name
        assert ours["type"].upper() == ref.tensor_type.name
        assert ours["type_id"] == int(ref.tensor_type)
        assert ours["shape"] == [int(d) for d in ref.shape]
        assert ours["bytes"] == int(ref.n_bytes)
        assert ours["offset"] + reader.data_offset == int(ref.data_offset)
        by_type.setdefault(ours["type"], [0, 0])
        by_type[ours["type"]][0] += 1
        by_type[ours["type"]][1] += int(ref.n_bytes)
        params += int(ref.n_elements)
    assert {k: [v["count"], v["bytes"]] for k, v in report["types"].items()} == by_type
    assert report["parameters"] == params
    assert report["bits_per_weight"] == pytest.approx(8 * report["tensor_bytes"] / params)
    arch = report["architecture"]
    assert arch == str(reader.fields["general.architecture"].contents())
    for key, value in report["hyperparameters"].items():
        assert key.startswith(arch + ".")
        ref = reader.fields[key].contents()
        if isinstance(value, float):
            assert value == pytest.approx(ref)
        else:
            assert value == ref
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    tok = report["tokenizer"]
    assert tok["vocab_size"] == len(tokens)
    assert tok["model"] == reader.fields["tokenizer.ggml.model"].contents()
    if "tokenizer.ggml.merges" in reader.fields:
        assert tok["merges"] == len(reader.fields["tokenizer.ggml.merges"].contents())
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert tok["control_tokens"] == sum(1 for t in types if t == 3)
    assert tok["user_defined_tokens"] == sum(1 for t in types if t == 4)
    for label, key in [("bos", "tokenizer.ggml.bos_token_id"), ("eos", "tokenizer.ggml.eos_token_id")]:
        if key in reader.fields:
            tid = reader.fields[key].contents()
            assert tok[label]["id"] == tid
            assert tok[label]["text"] == tokens[tid]
    has_tmpl = "tokenizer.chat_template" in reader.fields
    assert report["chat_template"]["present"] == has_tmpl
    if has_tmpl:
        raw = bytes(reader.fields["tokenizer.chat_template"].parts[-1])
        assert report["chat_template"]["length"] == len(raw)


@pytest.mark.parametrize("path", SHARED_MODELS, ids=os.path.basename)
def test_info_json_matches_gguf_reader(path):
    report = info_json(path)
    assert report["mmap"] is True
    check_against_reader(path, report)


def test_info_default_model():
    if not os.path.exists(DEFAULT_MODEL):
        pytest.skip("default model not fetched (scripts/fetch_model)")
    report = info_json(DEFAULT_MODEL)
    assert report["architecture"] == "gemma3"
    check_against_reader(DEFAULT_MODEL, report)


def test_info_text_and_flags():
    path = os.path.join(SHARED, "models", "tiny-llama-spm-Q4_K_M.gguf")
    proc = run_info(path)
    assert proc.returncode == 0, proc.stderr
    for needle in ["architecture:   llama", "llama.block_count", "tokenizer:", "tensors (", "totals by type:",
                   "parameters:", "bits per weight:", "q4_K"]:
        assert needle in proc.stdout
    report = info_json(path, "--no-mmap")
    assert report["mmap"] is False
    check_against_reader(path, report)
    report = info_json(path, "--mlock")  # succeeds or warns; never fails
    assert report["mlocked"] or any("ulimit -l" in w for w in report["warnings"])


def test_info_usage_errors():
    assert run_info().returncode == 1
    assert run_info("--bogus", "x.gguf").returncode == 1


@pytest.mark.parametrize("cut", [0, 3, 10, 24, 200, 5000, 2_000_000])
def test_info_truncated_file_exits_2(tmp_path, cut):
    src = os.path.join(SHARED, "models", "tiny-qwen3-bpe-Q8_0.gguf")
    with open(src, "rb") as f:
        data = f.read(cut)
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(data)
    proc = run_info(str(bad), "--json")
    assert proc.returncode == 2, proc.stderr
    assert "invalid file" in proc.stderr and "gguf:" in proc.stderr
    assert proc.stdout == ""


def test_info_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(4096))
    proc = run_info(str(garbage))
    assert proc.returncode == 2
    assert "not a GGUF file" in proc.stderr
    swapped = tmp_path / "be.gguf"
    swapped.write_bytes(b"GGUF" + (3).to_bytes(4, "big") + bytes(16))
    proc = run_info(str(swapped))
    assert proc.returncode == 2
    assert "byte-swapped (big-endian)" in proc.stderr
    proc = run_info(str(tmp_path / "missing.gguf"))
    assert proc.returncode == 2
    assert "cannot open" in proc.stderr


def test_info_json_with_non_utf8_value(tmp_path):
    # A v3 file with no tensors and one KV general.name = b"ab\xff": accepted, recorded as a warning,
    # and the JSON stays valid (the bad byte is replaced).
    import struct
    key = b"general.name"
    value = b"ab\xff"
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    data += struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(value)) + value
    path = tmp_path / "nonutf8.gguf"
    path.write_bytes(data)
    proc = run_info(str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["name"].startswith("ab")
    assert any("not valid UTF-8" in w for w in report["warnings"])
    assert "not valid UTF-8" in proc.stderr
