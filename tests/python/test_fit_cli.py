# `hearth fit` end to end: the JSON plan of a shared model on a simulated device stays within the
# budget, grows with it, follows -ngl / --no-kv-offload / -ot, and bad input exits 2 (usage 1).
import json
import os
import subprocess

import pytest

BIN = os.environ.get("HEARTH_BIN", "build/bin/hearth")
SHARED = os.environ.get("HEARTH_SHARED", "../shared")
MODEL = os.path.join(SHARED, "models", "tiny-llama-spm-Q4_K_M.gguf")
MIB = 1 << 20


def fit(*args):
    return subprocess.run([BIN, "fit", "-m", MODEL, *args], capture_output=True, text=True, timeout=60)


def plan(*args):
    r = fit(*args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def device(p):
    return p["devices"][-1]


def test_budget_is_respected_and_monotonic():
    prev = -1
    for mib in range(300, 460, 4):
        p = plan("-c", "4096", "--device-free", "8GiB", "--vram-budget", f"{mib}MiB")
        assert device(p)["total"] <= mib * MIB
        layers = p["n_gpu_layers"] + (1 if p["output_offloaded"] else 0)
        assert layers >= prev
        prev = layers
    assert prev == 5  # 4 layers + output at the top of the range


def test_ngl_and_kv_offload():
    p = plan("-ngl", "2", "--device-free", "8GiB")
    assert p["n_gpu_layers"] == 2 and not p["output_offloaded"]
    assert p["kv_device"] == ["cpu", "cpu", "cuda0", "cuda0"]
    on_gpu = [t["name"] for t in p["tensors"] if t["device"] == "cuda0"]
    assert on_gpu and all(n.startswith(("blk.2.", "blk.3.")) for n in on_gpu)
    p = plan("-ngl", "5", "--no-kv-offload", "--device-free", "8GiB")
    assert p["output_offloaded"] and p["kv_device"] == ["cpu"] * 4
    assert device(p)["kv_cache"] == 0
    p = plan("-ngl", "5", "-ot", "ffn_.*=CPU", "--device-free", "8GiB")
    assert all(t["device"] == "cpu" for t in p["tensors"] if "ffn_" in t["name"])


def test_kv_bytes_follow_the_cache_type():
    f16 = plan("-c", "2048", "-ngl", "5", "--device-free", "8GiB")
    q8 = plan("-c", "2048", "-ngl", "5", "--device-free", "8GiB", "-ctk", "q8_0", "-ctv", "q8_0")
    # 4 layers x 2048 tokens x (K + V) rows of 128 values: f16 2 bytes each, q8_0 34 bytes per 32.
    assert device(f16)["kv_cache"] == 4 * 2048 * 2 * 128 * 2
    assert device(q8)["kv_cache"] == 4 * 2048 * 2 * 4 * 34


@pytest.mark.parametrize("args,rc,needle", [
    (["--vram-budget", "12X", "--device-free", "1G"], 2, "invalid size"),
    (["--vram-budget", "100MiB", "--device-free", "8GiB"], 2, "is below the"),
    (["--device", "tpu0"], 2, "unknown device"),
    (["-ctk", "q4_K"], 2, "unsupported KV cache type"),
    (["-ot", "[=cpu"], 2, "not a valid regex"),
    (["--bogus"], 1, "unknown option"),
])
def test_bad_input(args, rc, needle):
    r = fit(*args)
    assert r.returncode == rc, r.stderr
    assert needle in r.stderr


def test_cpu_only_text_plan():
    r = fit("--device", "none")
    assert r.returncode == 0, r.stderr
    assert "CPU only" in r.stdout
