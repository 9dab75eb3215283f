# Peak RSS of `hearth run` on the default model (Gemma 3 270M Q4_K_M, mmap, the default context of
# 32,768 tokens): at most the file size + KV pages in use + compute buffers + 50 MiB (issue: memory
# under the user's control; llama.cpp allocates the whole KV cache up front). Repacked weights must
# not keep a second resident copy of the matrices.
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("HEARTH_ROOT", Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HEARTH_BIN", str(ROOT / "build" / "bin" / "hearth"))
GEMMA = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
ERR_LOG = f"/tmp/hearth_rss_test.{os.getpid()}.err"

if not GEMMA.exists():
    pytest.skip("default model not fetched (make model)", allow_module_level=True)


@pytest.mark.parametrize("env", [{}, {"HEARTH_NO_REPACK": "1"}], ids=["repacked", "plain"])
def test_peak_rss_within_file_plus_buffers(env):
    pid = os.fork()
    if pid == 0:
        out = os.open(os.devnull, os.O_WRONLY)
        err = os.open(ERR_LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.execve(BIN, [BIN, "run", "-m", str(GEMMA), "-p", "The capital of France is", "-n", "16", "--temp", "0",
                        "-t", "2"], {**os.environ, **env})
    _, status, usage = os.wait4(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log = open(ERR_LOG).read()
    m = re.search(r"at end: weights ([0-9.]+) MiB \| KV cache ([0-9.]+) MiB allocated.*compute ([0-9.]+) MiB", log)
    assert m, log
    kv, compute = float(m.group(2)), float(m.group(3))
    peak_mib = usage.ru_maxrss / 1024
    limit = GEMMA.stat().st_size / 2**20 + kv + compute + 50
    print(f"peak RSS {peak_mib:.0f} MiB, limit {limit:.0f} MiB")
    assert peak_mib <= limit


def _mapped_bytes(path, begin, size):
    """Bytes of [begin, begin + size) of this process's mapping of `path` that are present."""
    import struct
    start = next(int(line.split('-')[0], 16) for line in open('/proc/self/maps') if line.rstrip().endswith(str(path)))
    page = os.sysconf('SC_PAGE_SIZE')
    p0, p1 = (start + begin) // page, (start + begin + size - 1) // page
    with open('/proc/self/pagemap', 'rb') as f:
        f.seek(p0 * 8)
        data = f.read((p1 - p0 + 1) * 8)
    return page * sum(struct.unpack_from('<Q', data, i)[0] >> 63 for i in range(0, len(data), 8))


def test_tied_embedding_lookups_do_not_pile_back_into_memory():
    """Gemma's output matrix is its token embedding: the matmul reads the repacked copy, and the
    original rows' pages were dropped at load. get_rows still reads original rows, and each lookup
    faults a whole page-cache folio back in; without releasing them again a long session of varied
    tokens would map most of the 170 MB table a second time beside its copy."""
    import random
    import gguf
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hearth_ctypes import Context, Hearth, Model
    embd = next(t for t in gguf.GGUFReader(str(GEMMA)).tensors if t.name == 'token_embd.weight')
    model = Model(Hearth(), GEMMA)
    ctx = Context(model, n_ctx=4096, n_threads=2)
    try:
        rng = random.Random(1)
        tokens = [rng.randrange(model.n_vocab) for _ in range(4000)]
        for i in range(0, len(tokens), 500):
            ctx.decode(tokens[i:i + 500], pos=list(range(i, i + 500)), want=[0] * 499 + [1])
        mapped = _mapped_bytes(GEMMA, embd.data_offset, embd.n_bytes)
    finally:
        ctx.close()
        model.close()
    print(f"token_embd mapped after {len(tokens)} random lookups: {mapped / 2**20:.1f} of {embd.n_bytes / 2**20:.0f} MiB")
    assert mapped <= embd.n_bytes // 4
