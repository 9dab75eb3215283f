# Acceptance of `hearth quantize` against llama.cpp's llama-quantize outputs in ../shared/models:
# same per-tensor types, per-tensor RMSE vs the F16 original at most 1.02x llama.cpp's, metadata
# kept with llama.cpp's general.file_type; legacy types byte-identical; bad arguments rejected.
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

ROOT = Path(os.environ.get("HEARTH_ROOT", Path(__file__).resolve().parents[2]))
SHARED = Path(os.environ.get("HEARTH_SHARED", ROOT.parent / "shared"))
BIN = Path(os.environ.get("HEARTH_BIN", ROOT / "build" / "bin" / "hearth"))
MODELS = SHARED / "models"

if not BIN.exists():
    pytest.skip(f"{BIN} not built", allow_module_level=True)

# (f16 source, mix, llama.cpp's file made from the source with that mix, llama.cpp's file_type)
CASES = [
    ("tiny-qwen3-bpe-f16.gguf", "Q4_K_M", "tiny-qwen3-bpe-Q4_K_M.gguf", 15),
    ("tiny-qwen3-bpe-f16.gguf", "Q5_K_M", "tiny-qwen3-bpe-Q5_K_M.gguf", 17),
    ("tiny-llama-spm-f16.gguf", "Q4_K_M", "tiny-llama-spm-Q4_K_M.gguf", 15),
    ("tiny-qwen3-bpe-f16.gguf", "Q4_0", "tiny-qwen3-bpe-Q4_0.gguf", 2),
    ("tiny-qwen3-bpe-f16.gguf", "Q8_0", "tiny-qwen3-bpe-Q8_0.gguf", 7),
]


def dequant(t):
    return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)


def field_value(reader, key):
    f = reader.fields[key]
    return f.contents() if hasattr(f, "contents") else f.parts[-1].tolist()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("quantize")
    made = {}
    for src, mix, _, _ in CASES:
        out = out_dir / f"{Path(src).stem}-{mix}.gguf"
        proc = subprocess.run([str(BIN), "quantize", str(MODELS / src), str(out), mix, "--threads", "2"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "time:" in proc.stdout and "MiB" in proc.stdout
        made[(src, mix)] = out
    return made


@pytest.mark.parametrize("src,mix,ref,ftype", CASES, ids=[f"{c[0].split('-')[1]}-{c[1]}" for c in CASES])
def test_types_rmse_and_metadata(outputs, src, mix, ref, ftype):
    ours = gguf.GGUFReader(str(outputs[(src, mix)]))
    theirs = gguf.GGUFReader(str(MODELS / ref))
    orig = gguf.GGUFReader(str(MODELS / src))
    orig_t = {t.name: t for t in orig.tensors}
    their_t = {t.name: t for t in theirs.tensors}
    assert sorted(t.name for t in ours.tensors) == sorted(their_t)

    assert int(field_value(ours, "general.file_type")) == ftype
    assert int(field_value(ours, "general.quantization_version")) == 2
    # Every metadata key of the source is kept with its value.
    for key in orig.fields:
        if key.startswith("GGUF.") or key == "general.file_type":
            continue
        assert key in ours.fields, key
        if key.startswith("tokenizer.ggml.") and len(orig.fields[key].data) > 1000:
            assert len(ours.fields[key].data) == len(orig.fields[key].data)
        else:
            assert field_value(ours, key) == field_value(orig, key), key

    worst = 0.0
    for t in ours.tensors:
        r = their_t[t.name]
        assert t.tensor_type == r.tensor_type, f"{t.name}: ours {t.tensor_type.name}, llama.cpp {r.tensor_type.name}"
        assert list(t.shape) == list(r.shape)
        x = dequant(orig_t[t.name])
        if t.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            assert np.array_equal(dequant(t), x), t.name
            continue
        rmse_ours = float(np.sqrt(np.mean((dequant(t) - x) ** 2)))
        rmse_llama = float(np.sqrt(np.mean((dequant(r) - x) ** 2)))
        ratio = rmse_ours / rmse_llama
        worst = max(worst, ratio)
        assert ratio <= 1.02, f"{t.name} ({t.tensor_type.name}): RMSE {rmse_ours:.6g} vs llama.cpp {rmse_llama:.6g}"
        # Q4_0 / Q8_0 use the classic formulas: byte-identical to llama.cpp's reference encoder.
        if t.tensor_type in (gguf.GGMLQuantizationType.Q4_0, gguf.GGMLQuantizationType.Q8_0):
            assert np.array_equal(np.asarray(t.data).view(np.uint8), np.asarray(r.data).view(np.uint8)), t.name
    print(f"{src} {mix}: worst RMSE ratio vs llama.cpp {worst:.4f}")


def run(*args):
    return subprocess.run([str(BIN), "quantize", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_bad_arguments(tmp_path):
    src = MODELS / "tiny-qwen3-bpe-f16.gguf"
    assert run().returncode == 1
    assert run(src, tmp_path / "o.gguf").returncode == 1
    p = run(src, tmp_path / "o.gguf", "Q9_K")
    assert p.returncode == 1 and "unknown type" in p.stderr
    assert run(src, tmp_path / "o.gguf", "Q4_K_M", "--threads", "zero").returncode == 1
    assert run(src, tmp_path / "o.gguf", "Q4_K_M", "--bogus").returncode == 1
    p = run(tmp_path / "missing.gguf", tmp_path / "o.gguf", "Q4_K_M")
    assert p.returncode == 2 and "error" in p.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 40)
    p = run(bad, tmp_path / "o.gguf", "Q4_K_M")
    assert p.returncode == 2
    assert not (tmp_path / "o.gguf").exists()
    assert run("--help").returncode == 0
