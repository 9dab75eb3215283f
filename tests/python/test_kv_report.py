# `hearth kv-report` end to end: on tiny-qwen3-bpe-f16 it prints one Markdown row per KV configuration,
# the f16 reference with KLD 0 and 100% top-1, quantized K/V with a positive KLD, smaller KV bytes per
# token, and PPL equal to `hearth perplexity` for f16; bad configurations exit 2.
import os
import re
import subprocess

import pytest

BIN = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
QWEN = os.path.join(SHARED, "models", "tiny-qwen3-bpe-f16.gguf")
TEXT = os.path.join(SHARED, "golden", "text-gpl3.txt")

if not os.path.exists(BIN) or not os.path.exists(QWEN) or not os.path.exists(TEXT):
    pytest.skip("hearth binary or shared data missing", allow_module_level=True)


def rows(stdout):
    out = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0] not in ("KV config",) and not cells[0].startswith("---"):
            out[cells[0]] = cells
    return out


def test_kv_report_rows():
    r = subprocess.run([BIN, "kv-report", "-m", QWEN, "-f", TEXT, "-c", "128", "--chunks", "2", "-t", "2",
                        "--configs", "q8_0,q4_0,q4_0+had,q8_0:f16+khad"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    t = rows(r.stdout)
    assert list(t) == ["f16", "q8_0", "q4_0", "q4_0+had", "q8_0:f16+khad"]
    f16 = t["f16"]
    assert float(f16[5]) == 0.0 and float(f16[6]) == 100.0
    assert int(f16[7]) == 4 * 2 * 2 * 64 * 2  # layers * (K+V) * kv heads * head_dim * 2 bytes
    for name in ("q8_0", "q4_0", "q4_0+had"):
        assert float(t[name][5]) > 0.0
        assert 0.0 <= float(t[name][6]) <= 100.0
        assert int(t[name][7]) < int(f16[7])
    assert float(t["q8_0"][5]) < float(t["q4_0"][5])  # 8-bit K/V is closer to f16 than 4-bit
    assert t["q8_0:f16+khad"][1] == "q8_0+had" and t["q8_0:f16+khad"][2] == "f16"

    # The f16 row's PPL is hearth perplexity's on the same windows.
    p = subprocess.run([BIN, "perplexity", "-m", QWEN, "-f", TEXT, "-c", "128", "--chunks", "2", "-t", "2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    ppl = float(re.search(r"PPL = ([0-9.]+)", p.stdout).group(1))
    assert abs(float(f16[3]) - ppl) / ppl < 1e-3


def test_kv_report_bad_config():
    r = subprocess.run([BIN, "kv-report", "-m", QWEN, "-f", TEXT, "--configs", "q4_0+foo"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert "+foo" in r.stderr


def test_perplexity_kv_report_alias():
    r = subprocess.run([BIN, "perplexity", "--kv-report", "-m", QWEN, "-f", TEXT, "-c", "64", "--chunks", "1", "-t", "2",
                        "--configs", "q8_0"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert list(rows(r.stdout)) == ["f16", "q8_0"]
