# The default model (Gemma 3 270M Q4_K_M, fetched by scripts/fetch_model): perplexity on the golden
# text within 0.5% of llama.cpp's (llama-cpp-python, same method: windows of 128 tokens, each
# scoring its second half) in the same run, and sensible English after "The capital of France is".
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_kv_types import hearth, hearth_ppl, llama_ppl  # noqa: E402

ROOT = Path(os.environ.get("HEARTH_ROOT", Path(__file__).resolve().parents[2]))
GEMMA = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"

if not GEMMA.exists():
    pytest.skip("default model not fetched (make model)", allow_module_level=True)

CHUNKS = 24  # 24 windows of 128 tokens: about 1,500 scored tokens, a few seconds for each engine


def test_gemma_perplexity_matches_llama_cpp():
    want = llama_ppl(str(GEMMA), CHUNKS, "f16", "f16", True)
    got = hearth_ppl(str(GEMMA), CHUNKS)
    print(f"[gemma ppl] hearth {got:.4f} llama.cpp {want:.4f} ratio {got / want:.5f}")
    assert abs(got / want - 1) < 0.005, f"hearth {got:.4f} vs llama.cpp {want:.4f}"


def test_gemma_capital_of_france_is_english():
    r = hearth("run", "-m", str(GEMMA), "-p", "The capital of France is", "-n", "8", "--temp", "0", "-t", "2")
    assert r.returncode == 0, r.stderr
    assert "Paris" in r.stdout or "capital" in r.stdout, r.stdout
