"""Seeded fills on parameters that require grad, with torch on several threads.

Grad mode is per thread in torch: the engine's pool threads must run with the caller's mode, or an
in-place write to a view of a leaf that requires grad raises. Each case runs in a fresh process with
the thread count set before torch does any work.
"""

import subprocess
import sys
import textwrap

import pytest

CASES = {
    "linear-orthogonal": 'initlab.initialize(nn.Linear(512, 512), "orthogonal", seed=0)',
    "lstm-auto": "initlab.initialize(nn.LSTM(512, 512), seed=0)",
    "lsuv": "initlab.lsuv(nn.Sequential(nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 10)), torch.randn(64, 64), seed=0)",
}


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("case", sorted(CASES))
def test_seeded_fills_on_parameters_at_any_thread_count(case, threads):
    code = textwrap.dedent(f"""
        import torch, torch.nn as nn, initlab
        torch.set_num_threads({threads})
        {CASES[case]}
        print("done")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("done")
