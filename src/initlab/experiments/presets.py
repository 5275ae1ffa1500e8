"""Presets: the claims about initialization, each reproduced on real data over paired seeds and
judged by numbers.

``run_preset(name, budget="full"|"quick", seed=0)`` runs one claim (a module of
:mod:`initlab.experiments.claims`, built on :mod:`initlab.experiments.claim`): it trains and probes
the networks the claim is about on paired seeds, keeps every measured number as a result row,
judges each criterion by the 95 % t-interval over the seeds (:mod:`initlab.experiments.verdict`)
and returns the verdict — ``reproduced``, ``contradicted`` or ``inconclusive`` — with the source's
own figure beside ours. It is computed from the measurements, never written in.
``initlab experiment NAME`` prints the same.

======================  ===========================================================================
name                    claim (source)
======================  ===========================================================================
``symmetry``            zeros or a constant leave every hidden unit identical forever (CLAIMS 1, 2)
``vanishing``           N(0, 0.01²): gradients vanish toward the input at mean-field's rate (CLAIMS 3)
``exploding``           N(0, 1): ReLU explodes and diverges; tanh/sigmoid saturate (CLAIMS 4)
``xavier-vs-he``        30-layer ReLU: He trains, Var = 1/fan_in stalls (He et al. 2015, Fig. 3)
``glorot2010``          normalized init keeps back-propagated gradients flat (Glorot & Bengio 2010)
``activation-guide``    He for ReLU family, Xavier for tanh/sigmoid, LeCun for SELU (CLAIMS 10)
``orthogonal-depth``    deep linear nets: orthogonal init learns in depth-independent time (Saxe 2013)
``selu``                SELU + LeCun keeps mean 0, variance 1 over 64 layers (Klambauer et al. 2017)
``mnist1d-baselines``   logistic ≈ 32 %, MLP ≈ 68 %, CNN ≈ 94 % on MNIST-1D (Greydanus 2020)
``lsuv``                LSUV: unit output variance in ≤ 10 iterations; a deep net made trainable
                        (Mishkin & Matas 2015)
``deep-residual``       100 residual blocks, no normalization: Fixup and SkipInit train, He does not
                        (Zhang et al. 2019; De & Smith 2020)
``residual-stream``     the pre-norm stream's std grows like √L unless the branches are scaled; mean-field
                        theory within 10 % (Yang & Schoenholz 2017)
``depth-lm``            a character transformer at growing depth: scaled branches flat or improving, unscaled
                        worse (Radford et al. 2019; Dey et al. 2025)
``zero-init``           ZerO trains as well as He, the same weights for every seed (Zhao et al. 2022)
======================  ===========================================================================

Budgets: ``"full"`` runs ≥ 5 paired seeds, ``"quick"`` ≥ 3 with fewer epochs (or depths, or
learning rates); each preset's settings are in its module's ``BUDGETS`` and returned in
:attr:`PresetResult.settings`. Every preset runs with one torch thread (these networks are small:
per-call overhead, not arithmetic, dominates, and one thread is both faster on a busy machine and
bit-for-bit reproducible); the caller's thread count is restored afterwards.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from typing import Any

from ..activations import row as _catalogue_row
from ..errors import InitlabError, check_int, suggest
from .claim import Preset
from .verdict import MARKS, verdict as _verdict

__all__ = ["PRESETS", "BUDGETS", "Preset", "PresetResult", "run_preset", "check_request", "judge_rows",
           "GUIDE_ACTIVATIONS", "GUIDE_SCHEMES", "RECOMMENDED"]

BUDGETS = ("full", "quick")


# --------------------------------------------------------------------------- activation guide

GUIDE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "selu", "gelu")
GUIDE_SCHEMES = ("glorot_normal", "he_normal", "lecun_normal")
# the rule of thumb under test is initialize("auto")'s: derived from the activation catalogue
RECOMMENDED = {act: _catalogue_row(act).auto for act in GUIDE_ACTIVATIONS}


# --------------------------------------------------------------------------- results

@dataclass
class PresetResult:
    """The outcome of one preset.

    ``verdict``: ``"reproduced"``, ``"contradicted"`` or ``"inconclusive"`` (see
    :func:`initlab.experiments.verdict.verdict`). ``checks``: one dict per criterion — ``criterion``,
    ``measured`` (mean ± sd, the 95 % t-interval and n, as text), ``outcome``, ``passed`` (reproduced),
    ``statistics`` (mean, sd, n, interval, per-seed values) and ``per_seed``. ``rows``: every measured
    number, one dict per seed × scheme × layer/epoch as the preset measures (:attr:`table` gives a
    DataFrame). ``source``: the citation and the source's own figures; ``comparison``: rows of
    quantity / source / ours side by side. ``figures``: the plots, described as data for the report.
    ``summary_rows``: the few rows ``initlab experiment`` prints. ``seeds``: the paired seeds.
    ``seconds``/``cpu_seconds``: wall and CPU time. ``command`` reproduces the result.
    """

    name: str
    title: str
    claim: str
    verdict: str
    checks: list[dict]
    rows: list[dict] = field(repr=False)
    budget: str
    seed: int
    seeds: list[int]
    seconds: float
    command: str
    cpu_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    summary_rows: list[dict] = field(default_factory=list, repr=False)
    source: dict = field(default_factory=dict)
    comparison: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list, repr=False)
    explanation: str = ""

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"

    @property
    def table(self):
        """``rows`` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "claim": self.claim, "verdict": self.verdict,
                "checks": self.checks, "source": self.source, "comparison": self.comparison, "budget": self.budget,
                "seed": self.seed, "seeds": self.seeds, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "command": self.command,
                "settings": self.settings, "summary_rows": self.summary_rows, "figures": self.figures,
                "rows": self.rows}

    def summary(self) -> str:
        lines = [f"{self.name}: {self.verdict}  ({self.claim})"]
        lines += [f"  {MARKS[c['outcome']]} {c['criterion']}: {c['measured']}" for c in self.checks]
        lines.append(f"  reproduce: {self.command}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- registry

def _discover() -> dict[str, Preset]:
    from . import claims

    found = []
    for info in pkgutil.iter_modules(claims.__path__):
        module = importlib.import_module(f"{claims.__name__}.{info.name}")
        preset = getattr(module, "PRESET", None)
        if isinstance(preset, Preset):
            found.append(preset)
    found.sort(key=lambda p: (p.order, p.name))
    return {p.name: p for p in found}


PRESETS: dict[str, Preset] = _discover()
"""Every claim, by name, in the order the demo shows them."""


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def check_request(name: str, budget: str = "full", seed: int = 0) -> tuple[str, str, int]:
    """Check a preset name, budget and seed (before any work); return them normalized."""
    if not isinstance(name, str) or name not in PRESETS:
        raise InitlabError(f"preset: got {name!r}; allowed: {', '.join(PRESETS)}{suggest(str(name), PRESETS)}")
    if budget not in BUDGETS:
        raise InitlabError(f"budget: got {budget!r}; allowed: {', '.join(map(repr, BUDGETS))}")
    return name, budget, check_int("seed", seed, minimum=0)


def judge_rows(name: str, rows: list[dict], budget: str = "full") -> tuple[str, list]:
    """The verdict and checks a preset gives ``rows`` (measured, or synthetic in a test)."""
    preset = PRESETS[check_request(name, budget)[0]]
    checks = preset.judge(rows, dict(preset.budgets[budget]))
    return _verdict(checks), checks


def run_preset(name: str, budget: str = "full", seed: int = 0, *, overrides: dict | None = None) -> PresetResult:
    """Reproduce the claim ``name`` (a key of :data:`PRESETS`) on paired seeds ``seed``, ``seed + 1``, …
    and judge it; see the module docstring. ``overrides`` replaces settings of the budget (only keys
    the budget has), e.g. ``{"seeds": 8}`` or ``{"epochs": 1}`` for a smoke run.

    >>> r = run_preset("symmetry", budget="quick")   # doctest: +SKIP
    >>> r.verdict, [c["outcome"] for c in r.checks][:2]   # doctest: +SKIP
    ('reproduced', ['reproduced', 'reproduced'])
    """
    from .claim import seeds_of
    from .sweep import torch_threads

    name, budget, seed = check_request(name, budget, seed)
    preset = PRESETS[name]
    settings = dict(preset.budgets[budget])
    if overrides:
        unknown = [k for k in overrides if k not in settings]
        if unknown:
            raise InitlabError(f"overrides: got {unknown[0]!r}; allowed: {', '.join(settings)}"
                               f"{suggest(str(unknown[0]), settings)}")
        settings.update(overrides)
    check_int("seeds", settings["seeds"], minimum=1)
    seeds = seeds_of(settings, seed)
    start, cpu = time.perf_counter(), time.process_time()
    with torch_threads(1):
        rows = preset.measure(settings, seeds)
    checks = preset.judge(rows, settings)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    command = f"initlab experiment {name}" + (" --quick" if budget == "quick" else "") + (
        f" --seed {seed}" if seed else "")
    return PresetResult(
        name=name, title=preset.title, claim=preset.claim, verdict=_verdict(checks),
        checks=[c.to_dict() for c in checks], rows=rows, budget=budget, seed=seed, seeds=seeds, seconds=seconds,
        cpu_seconds=cpu, command=command, settings=_jsonable(settings),
        summary_rows=preset.summarize(rows, settings) if preset.summarize else [],
        source=preset.source.to_dict(), comparison=preset.compare(rows, settings),
        figures=[f.to_dict() for f in preset.figures], explanation=preset.explanation)
