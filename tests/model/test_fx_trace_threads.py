"""torch.fx patches torch.nn.Module process-wide while it traces: a module that another thread calls
during a trace must run as usual, and the trace must record only the traced model's own calls (the
playground trains one run while it builds, and so traces, another)."""

from __future__ import annotations

import threading

import torch
from torch import nn

from initlab.model.activations import fx_trace


def test_a_module_called_in_another_thread_during_a_trace_runs_as_usual():
    torch.manual_seed(0)
    busy = nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 4))
    x = torch.randn(8, 16)
    want = busy(x).detach()
    traced_model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    stop, errors, calls = threading.Event(), [], [0]

    def work():
        while not stop.is_set():
            try:
                out = busy(x)
                assert torch.equal(out.detach(), want)
                out.sum().backward()
                calls[0] += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
                return

    thread = threading.Thread(target=work)
    thread.start()
    try:
        graphs = [fx_trace(traced_model) for _ in range(200)]
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert errors == [] and calls[0] > 0
    for gm in graphs:  # each graph holds the traced model's calls only
        assert [n.target for n in gm.graph.nodes if n.op == "call_module"] == ["0", "1", "2"]
    assert torch.equal(graphs[-1](torch.ones(3, 4)), traced_model(torch.ones(3, 4)))
