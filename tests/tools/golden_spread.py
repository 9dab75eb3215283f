"""How reproducible are the golden top-5 log-probabilities at all? For each golden model this replays
the golden cases the way they were recorded (prompt in one batch, then one token per decode, greedy
tokens teacher-forced) through several engines and arithmetic paths, and prints how far each lands
from the recorded values and from each other:

  hearth/avx512, hearth/avx2, hearth/scalar   hearth's kernels at each CPU ISA level (HEARTH_CPU_ISA);
                                              all are correct to float rounding, only their summation
                                              orders differ
  llama.cpp/fa-on, llama.cpp/fa-off           llama.cpp (PyPI llama-cpp-python) with and without its
                                              CPU flash attention, when the module is installed

Output: one JSON object per line, {"model", "a", "b", "max", "mean"}, where b is "golden" or another
path. The quantized random-weight models amplify any rounding difference (an activation that moves
by one ulp can flip its 8-bit quantization), so this is the yardstick for the golden tolerance.

    python3 tests/tools/golden_spread.py [--shared DIR] [NAME ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = Path(os.environ.get('HEARTH_SHARED', HERE.parents[2] / 'shared'))
DEFAULT_NAMES = ['tiny-qwen3-bpe-f16', 'tiny-qwen3-bpe-Q8_0', 'tiny-qwen3-bpe-Q4_0', 'tiny-qwen3-bpe-Q4_K_M',
                 'tiny-qwen3-bpe-Q5_K_M', 'tiny-qwen3-bpe-IQ4_XS', 'tiny-llama-spm-f16', 'tiny-llama-spm-Q4_K_M']
HEARTH_ISAS = ['avx512', 'avx2', 'scalar']


def log_softmax(logits):
    v = np.asarray(logits, dtype=np.float64)
    v = v - v.max()
    return v - np.log(np.exp(v).sum())


def replay_hearth(model_path, cases):
    """Rows of log-probabilities, one per golden step, from hearth's C API."""
    sys.path.insert(0, str(HERE.parent / 'python'))
    from hearth_ctypes import Context, Hearth, Model
    model = Model(Hearth(), model_path)
    ctx = Context(model, n_ctx=256, n_threads=2)
    rows = []
    try:
        for case in cases:
            prompt = case['prompt_tokens']
            ctx.kv_remove()
            ctx.decode(prompt, want=[0] * (len(prompt) - 1) + [1])
            n_past = len(prompt)
            for s in range(len(case['steps'])):
                rows.append(log_softmax(ctx.logits(0 if s else len(prompt) - 1)))
                if s < len(case['tokens']):
                    ctx.decode([case['tokens'][s]], pos=[n_past], want=[1])
                    n_past += 1
    finally:
        ctx.close()
        model.close()
    return rows


def replay_llama_cpp(model_path, cases, flash_attn):
    from llama_cpp import Llama
    llm = Llama(str(model_path), n_ctx=256, n_batch=256, n_threads=2, logits_all=True, verbose=False,
                flash_attn=flash_attn)
    rows = []
    for case in cases:
        llm.reset()
        llm.eval(case['prompt_tokens'])
        for s in range(len(case['steps'])):
            rows.append(log_softmax(llm.scores[llm.n_tokens - 1]))
            if s < len(case['tokens']):
                llm.eval([case['tokens'][s]])
    return rows


def run_path(path_name, model_path, cases, out_file):
    """Each path runs in its own process: the ISA level is read once when hearth loads."""
    env = dict(os.environ)
    if path_name.startswith('hearth/'):
        env['HEARTH_CPU_ISA'] = path_name.split('/')[1]
    cmd = [sys.executable, __file__, '--worker', path_name, str(model_path), str(out_file)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f'# {path_name} on {model_path.name} failed: {done.stderr.strip()[-400:]}', file=sys.stderr)
        return None
    return np.load(out_file)


def gaps(rows_a, rows_b_or_tops):
    """Absolute differences at the golden's top-5 tokens of every step."""
    out = []
    for k, top in enumerate(rows_b_or_tops['tops']):
        for tok, recorded in top:
            ref = recorded if rows_b_or_tops['rows'] is None else rows_b_or_tops['rows'][k][tok]
            out.append(abs(rows_a[k][tok] - ref))
    return np.array(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', type=Path, default=DEFAULT_SHARED)
    ap.add_argument('--worker', nargs=3, metavar=('PATH', 'MODEL', 'OUT'), help=argparse.SUPPRESS)
    ap.add_argument('names', nargs='*')
    args = ap.parse_args()

    if args.worker:
        path_name, model_path, out_file = args.worker
        cases = json.loads(Path(out_file + '.cases.json').read_text())
        if path_name.startswith('hearth/'):
            rows = replay_hearth(model_path, cases)
        else:
            rows = replay_llama_cpp(model_path, cases, flash_attn=path_name.endswith('fa-on'))
        with open(out_file, 'wb') as f:
            np.save(f, np.array(rows, dtype=np.float64))
        return

    try:
        import llama_cpp  # noqa: F401
        paths = [f'hearth/{isa}' for isa in HEARTH_ISAS] + ['llama.cpp/fa-on', 'llama.cpp/fa-off']
    except ImportError:
        print('# llama_cpp is not installed (scripts/setup --bench): hearth paths only', file=sys.stderr)
        paths = [f'hearth/{isa}' for isa in HEARTH_ISAS]

    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names or DEFAULT_NAMES:
            model_path = args.shared / 'models' / f'{name}.gguf'
            golden_path = args.shared / 'golden' / f'completions-{name}.json'
            if not model_path.exists() or not golden_path.exists():
                print(f'# no model or golden for {name}', file=sys.stderr)
                continue
            cases = json.loads(golden_path.read_text())['cases']
            tops = [step['top'] for case in cases for step in case['steps']]
            rows = {}
            for p in paths:
                out_file = Path(tmp) / f'{name}-{p.replace("/", "-")}.npy'
                Path(str(out_file) + '.cases.json').write_text(json.dumps(cases))
                got = run_path(p, model_path, cases, out_file)
                if got is not None:
                    rows[p] = got
            names = list(rows)
            for i, a in enumerate(names):
                for b in ['golden'] + names[i + 1:]:
                    d = gaps(rows[a], {'tops': tops, 'rows': None if b == 'golden' else rows[b]})
                    print(json.dumps({'model': name, 'a': a, 'b': b, 'max': round(float(d.max()), 4),
                                      'mean': round(float(d.mean()), 4)}), flush=True)


if __name__ == '__main__':
    main()
