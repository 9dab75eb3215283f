# Bit-exactness of hearth's scalar reference dequantizers against the gguf package's
# (llama.cpp-equivalent) gguf.quants.dequantize, for every tensor of every test model and the
# default model when present; plus argument validation of the hearth_dequantize C function.
import os
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402

from quant_ctypes import HearthQuant, library_path  # noqa: E402

ROOT = Path(os.environ.get("HEARTH_ROOT", Path(__file__).resolve().parents[2]))
SHARED = Path(os.environ.get("HEARTH_SHARED", ROOT.parent / "shared"))


def model_files():
    files = sorted((SHARED / "models").glob("*.gguf"))
    for default in (ROOT / "models" / "gemma-3-270m-q4_k_m.gguf", Path("/tmp/gm/g.gguf")):
        if default.exists():
            files.append(default)
            break
    return files


@pytest.fixture(scope="module")
def hq():
    path = library_path()
    if not path.exists():
        pytest.skip(f"{path} not built")
    return HearthQuant(path)


ROWS_PER_CHUNK = 4096  # bounds memory on the 262144-row embedding of the default model


@pytest.mark.parametrize("path", model_files(), ids=lambda p: p.name)
def test_every_tensor_bit_exact(hq, path):
    reader = gguf.GGUFReader(str(path))
    seen = set()
    for t in reader.tensors:
        n = int(t.n_elements)
        data = np.asarray(t.data)
        rows = data.reshape(-1, data.shape[-1])  # one row per ne[0] elements, as stored
        row_elems = n // rows.shape[0]
        for r0 in range(0, rows.shape[0], ROWS_PER_CHUNK):
            chunk = np.ascontiguousarray(rows[r0:r0 + ROWS_PER_CHUNK])
            ref = np.asarray(gguf.quants.dequantize(chunk, t.tensor_type), dtype=np.float32).reshape(-1)
            ours = hq.dequantize(int(t.tensor_type), chunk, chunk.shape[0] * row_elems)
            assert ref.size == ours.size
            mismatch = np.flatnonzero(ours.view(np.uint32) != ref.view(np.uint32))
            assert mismatch.size == 0, (
                f"{path.name}:{t.name} ({t.tensor_type.name}) differs at {mismatch.size} elements of rows "
                f"{r0}+, first at {mismatch[0]}: ours {ours[mismatch[0]]!r} vs reference {ref[mismatch[0]]!r}")
        seen.add(t.tensor_type.name)
    assert seen


# Random blocks of every type the gguf package can decode (covers types absent from the models).
@pytest.mark.parametrize("qtype", [T.BF16, T.F16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K,
                                   T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS], ids=lambda q: q.name)
def test_random_blocks_bit_exact(hq, qtype):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(int(qtype))
    n_blocks = 64
    raw = rng.integers(0, 256, size=n_blocks * size, dtype=np.uint8)
    # Keep fp16/bf16 scale fields finite: clear the exponent's top bit of every 16-bit word.
    words = raw.view(np.uint16).copy() if raw.size % 2 == 0 else None
    if words is not None:
        words &= np.uint16(0xBFFF)
        raw = words.view(np.uint8)
    ref = np.asarray(gguf.quants.dequantize(raw.reshape(n_blocks, size), qtype), dtype=np.float32).reshape(-1)
    ours = hq.dequantize(int(qtype), raw, n_blocks * block)
    assert np.array_equal(ours.view(np.uint32), ref.view(np.uint32))


def test_argument_validation(hq):
    data = np.zeros(18, dtype=np.uint8)
    out = np.zeros(32, dtype=np.float32)
    assert hq.dequantize_status(2, data, 32, out) == 0
    assert hq.dequantize_status(4, data, 32, out) == 2  # removed type id
    assert "unknown type" in hq.last_error()
    assert hq.dequantize_status(9999, data, 32, out) == 2
    assert hq.dequantize_status(2, data, 31, out) == 2  # not a block multiple
    assert hq.dequantize_status(2, data, 64, out) == 2  # buffer too small for n
    assert "bytes" in hq.last_error()
    assert hq.dequantize_status(2, data, -32, out) == 2
    assert hq.dequantize_status(16, np.zeros(66, dtype=np.uint8), 256, np.zeros(256, np.float32)) == 3  # IQ2_XXS
    assert hq.dequantize_status(2, data, 32, None) == 2  # NULL dst


# Without importance weights the legacy encoders use the classic formulas: byte-identical to the
# gguf package's (llama.cpp-equivalent) reference quantizers.
@pytest.mark.parametrize("qtype", [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0], ids=lambda q: q.name)
def test_legacy_quantize_matches_gguf(hq, qtype):
    rng = np.random.default_rng(100 + int(qtype))
    x = (rng.standard_normal((64, 256)) * rng.uniform(0.01, 3.0, size=(64, 1))).astype(np.float32)
    x[3, :] = 0.0  # an all-zero row
    x[5, 7] = 40.0  # an outlier
    ref = np.asarray(gguf.quants.quantize(x, qtype)).view(np.uint8).reshape(-1)
    ours = hq.quantize(int(qtype), x, ref.nbytes)
    assert np.array_equal(ours, ref)


def test_quantize_argument_validation(hq):
    x = np.ones(256, dtype=np.float32)
    out = np.zeros(144, dtype=np.uint8)
    lib = hq.lib
    assert lib.hearth_quantize(12, x.ctypes.data, 256, None, out.ctypes.data, 144) == 0
    assert lib.hearth_quantize(12, x.ctypes.data, 256, None, out.ctypes.data, 143) == 2
    assert lib.hearth_quantize(12, x.ctypes.data, 128, None, out.ctypes.data, 72) == 2
    assert lib.hearth_quantize(16, x.ctypes.data, 256, None, out.ctypes.data, 66) == 3  # IQ2_XXS: no encoder
    assert lib.hearth_quantize(12, None, 256, None, out.ctypes.data, 144) == 2
    x[9] = np.nan
    assert lib.hearth_quantize(12, x.ctypes.data, 256, None, out.ctypes.data, 144) == 2
    assert "non-finite" in hq.last_error()
