"""The activation catalogue (initlab/activations.py): every row walked through every reader —
module detection, torch.fx detection (functions and methods), the probe (functions, methods,
saturation and dead rules), gains, the auto scheme, the findings, theory (kinks, supported
modules), the experiments' activation names and the presets' recommended schemes — and each
row's claims checked against values computed here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import integrate, stats

import initlab
from initlab._threads import torch_threads
from initlab.activations import CATALOGUE, REQUIRED, activation_callable, find_row, names, row
from initlab.diagnostics import diagnose, probe, scheme_for
from initlab.diagnostics._sites import FUNCTIONAL, module_activation
from initlab.experiments.models import ACTIVATIONS
from initlab.experiments.presets import GUIDE_ACTIVATIONS, RECOMMENDED
from initlab.model.activations import ACTIVATION_MODULES, activation_name, activation_of_module, find_activations
from initlab.schemes.gains import ACTIVATIONS as GAIN_NAMES
from initlab.schemes.gains import activation_fn, calculate_gain
from initlab.theory import variance_map
from initlab.theory.meanfield import _Phi
from initlab.theory.model import ELEMENTWISE, _kinks, predict_model

ROWS = {r.name: r for r in CATALOGUE}


@pytest.fixture(autouse=True)
def _one_thread():
    """One CPU thread: these models are tiny, and on a shared machine a parallel region mostly waits."""
    with torch_threads(1):
        yield

DETECTED = [r for r in CATALOGUE if r.modules]
# parameters given to every spelling in these tests: the ones without a default, and PReLU's weight
ARGS = {"threshold": (0.1, -0.5)}


def _module(r, cls):
    args = ARGS.get(r.name, ())
    return cls(*args)


def _spellings(r):
    """(label, how to call it on a tensor h inside a module) for every functional and method spelling."""
    out = [(f, "function", fn) for f, fn in zip(r.functions, r.function_objects())]
    out += [(f"Tensor.{m}", "method", m) for m in r.methods]
    return out


class _Net(nn.Module):
    """Linear → the activation spelled one way → Linear; a PReLU weight is a parameter of its own."""

    def __init__(self, how: str, target, extra: tuple):
        super().__init__()
        self.fc, self.head = nn.Linear(6, 8), nn.Linear(8, 3)
        self.slope = nn.Parameter(torch.full((1,), 0.25))
        self.how, self.target, self.extra = how, target, extra

    def forward(self, x):
        h = self.fc(x)
        extra = (self.slope,) if self.extra == ("slope",) else self.extra
        h = self.target(h, *extra) if self.how == "function" else getattr(h, self.target)(*extra)
        return self.head(h)


CASES = [(r.name, label, how, target) for r in DETECTED for label, how, target in _spellings(r)]


@pytest.mark.parametrize("name, label, how, target", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_spelling_is_found_by_fx_and_by_the_probe(name, label, how, target):
    r = ROWS[name]
    extra = ("slope",) if name == "prelu" else ARGS.get(name, ())
    torch.manual_seed(0)
    net = _Net(how, target, extra)
    act = find_activations(net)["fc"]
    assert act.found_by == "fx" and act.row == name, (label, act)
    rec = probe(net, torch.randn(16, 6, generator=torch.Generator().manual_seed(1)))
    acts = rec.where("activation")
    assert [a["activation"] for a in acts] == [name], label
    assert rec["fc"]["activation"] == name and rec["fc"]["paired"] == acts[0]["index"]
    assert acts[0]["paired"] == rec["fc"]["index"]


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_every_module_is_found_by_every_reader(r):
    for cls in r.module_classes():
        m = _module(r, cls)
        assert activation_name(m) == r.name
        act = activation_of_module(m)
        assert act.row == r.name and act.name == ("leaky_relu" if r.slope is not None else r.name)
        spec = module_activation(m)
        assert spec.name == r.name and spec.can_die == r.dies and spec.has_saturation == (r.saturation is not None)
        assert isinstance(m, ELEMENTWISE) == r.theory
        net = nn.Sequential(nn.Linear(6, 8), m, nn.Linear(8, 3))
        assert find_activations(net)["0"].row == r.name
        rec = probe(net, torch.randn(16, 6))
        assert rec["0"]["activation"] == r.name and rec["1"]["role"] == "activation"
        assert math.isnan(rec["1"]["frac_saturated"]) == (r.saturation is None)
        assert math.isnan(rec["1"]["frac_dead"]) == (not r.dies)


def test_module_classes_are_tested_subclasses_first():
    classes = [cls for cls, _ in ACTIVATION_MODULES]
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, earlier) for earlier in classes[:i]), cls
    assert activation_name(nn.ReLU6()) == "relu6" and activation_name(nn.Hardtanh()) == "hardtanh"


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_no_spelling_torch_offers_is_missing(r):
    """``F.<name>``, ``F.<name>_``, ``torch.<name>``, ``torch.<name>_`` and the ``Tensor`` methods of the
    same names — every one torch has is in the row (F.rrelu and F.elu_ were once seen by the probe
    but not by fx)."""
    import torch.nn.functional as F

    have = set(r.function_objects()) | set(r.method_objects())
    for space in (F, torch, torch.Tensor):
        for n in (r.name, r.name + "_"):
            fn = getattr(space, n, None)
            assert fn is None or fn in have, f"{space.__name__}.{n}"


# initialize("auto")'s rule as the README documents it: He for the ReLU family, Glorot for tanh-like
# activations and for activations without a rule, LeCun for SELU
AUTO = {"he_normal": {"relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "celu", "gelu", "silu", "mish",
                      "hardswish", "softplus"},
        "lecun_normal": {"selu"}}


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_auto_is_the_documented_rule(r):
    assert r.auto == next((s for s, acts in AUTO.items() if r.name in acts), "glorot_normal")


def test_every_spelling_maps_to_one_row_and_the_probe_knows_them_all():
    seen: dict = {}
    for r in CATALOGUE:
        for fn in (*r.function_objects(), *r.method_objects()):
            assert seen.setdefault(fn, r.name) == r.name, fn
            assert fn in FUNCTIONAL, fn
    assert len(seen) == len(FUNCTIONAL)


@pytest.mark.parametrize("m", [nn.Linear(2, 2), nn.Softmax(dim=-1), nn.Identity(), nn.Dropout()], ids=str)
def test_modules_that_are_not_elementwise_activations_have_no_name(m):
    assert activation_name(m) is None and activation_of_module(m) is None and module_activation(m) is None


# --------------------------------------------------------------------------- gains


@pytest.mark.parametrize("r", CATALOGUE, ids=[r.name for r in CATALOGUE])
def test_gain_is_pytorchs_where_pytorch_has_one(r):
    if r.gain is not None:
        assert r.gain == calculate_gain(r.name) == torch.nn.init.calculate_gain(r.name)
    elif r.name == "leaky_relu":
        assert calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    else:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(r.name)


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_the_callable_computes_what_the_module_computes(r):
    x = torch.linspace(-8, 8, 401, dtype=torch.float64)
    m = _module(r, r.module_classes()[0]).double().eval()
    params = {**r.defaults(), **r.module_params(m)}
    with torch.no_grad():
        want = m(x.clone())
    torch.testing.assert_close(activation_callable(r.name, params)(x), want, rtol=0, atol=1e-12)
    if r.name in GAIN_NAMES:
        torch.testing.assert_close(activation_fn(r.name)(x), want, rtol=0, atol=1e-12)


def test_gains_know_every_name_that_needs_no_parameter():
    assert set(GAIN_NAMES) == {n for n in names() if all(p.default is not REQUIRED for p in find_row(n)[0].params)}
    assert find_row("swish")[0].name == "silu" and find_row("gelu_tanh")[1] == {"approximate": "tanh"}
    with pytest.raises(initlab.InitlabError, match=r"activation: got 'threshold'; allowed: parameters threshold"):
        activation_callable("threshold")
    with pytest.raises(initlab.InitlabError, match=r"activation: got 'reluu'; .*did you mean 'relu'"):
        row("reluu")


# --------------------------------------------------------------------------- the auto scheme and the findings


def _expected_std(r, fan_in, fan_out, slope):
    # the three laws written out: He (with the leaky slope a), Glorot, LeCun
    return {"he_normal": math.sqrt(2.0 / ((1 + slope**2) * fan_in)),
            "glorot_normal": math.sqrt(2.0 / (fan_in + fan_out)), "lecun_normal": math.sqrt(1.0 / fan_in)}[r.auto]


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_auto_picks_the_rows_scheme(r):
    m = _module(r, r.module_classes()[0])
    plan = initlab.initialize(nn.Sequential(nn.Linear(16, 32), m, nn.Linear(32, 4)), dry_run=True)
    slope = r.slope({**r.defaults(), **r.module_params(m)}) if r.slope is not None else 0.0
    assert plan["0.weight"].scheme == r.auto
    assert plan["0.weight"].std == pytest.approx(_expected_std(r, 16, 32, slope), rel=1e-12)


def _second_moment(fn) -> float:
    """E[φ(z)²], z ~ N(0, 1), by adaptive quadrature (split at 0 and ±3, ±6 where kinks sit)."""
    edges = [-np.inf, -6.0, -3.0, 0.0, 3.0, 6.0, np.inf]
    return sum(integrate.quad(lambda z: float(fn(torch.tensor([z], dtype=torch.float64))[0]) ** 2
                              * stats.norm.pdf(z), lo, hi, epsabs=1e-12, epsrel=1e-10)[0]
               for lo, hi in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("r", [r for r in DETECTED if r.auto == "he_normal"], ids=lambda r: r.name)
def test_findings_depart_from_he_exactly_where_he_does_not_hold(r):
    """He's derivation needs E[φ(z)²] = (1 + a²)/2 (ReLU's, with slope a): where it holds the findings
    recommend He as auto does; where it fails by more than 5 % they recommend LSUV and say why."""
    params = r.defaults()
    slope = r.slope(params) if r.slope is not None else 0.0
    ratio = _second_moment(activation_callable(r.name)) / ((1 + slope**2) / 2)
    if r.recommend == "he_normal":
        assert ratio == pytest.approx(1.0, abs=0.01)
    else:
        assert r.recommend == "lsuv" and abs(ratio - 1.0) > 0.05 and "He" in r.reason and r.name in r.reason


@pytest.mark.parametrize("r", CATALOGUE, ids=[r.name for r in CATALOGUE])
def test_recommend_is_auto_or_says_why(r):
    assert r.recommend == r.auto or r.reason
    assert scheme_for(r.name) == (r.recommend or "lsuv")


@pytest.mark.parametrize("r", DETECTED, ids=[r.name for r in DETECTED])
def test_the_findings_prescribe_the_rows_scheme(r):
    layers: list[nn.Module] = []
    for i in range(6):
        layers += [nn.Linear(16, 16), _module(r, r.module_classes()[0])]
    net = nn.Sequential(*layers, nn.Linear(16, 4))
    initlab.initialize(net, {"name": "random_normal", "params": {"std": 1e-4}}, seed=0)
    findings = diagnose(probe(net, torch.randn(64, 16, generator=torch.Generator().manual_seed(0))))
    vanishing = [f for f in findings if f.kind == "vanishing"]
    assert vanishing, [str(f) for f in findings]
    if r.recommend == "lsuv":
        assert vanishing[0].fix == "lsuv" and r.name in vanishing[0].fix_reason
    else:
        assert vanishing[0].fix["0"] == r.recommend and vanishing[0].fix["12"] == "glorot_normal"


# --------------------------------------------------------------------------- theory


def _derivative_jumps(fn) -> list[float]:
    """Points in [-8, 8] where the slope of φ jumps (a kink or a step), by finite differences."""
    h = 1e-3
    x = np.arange(-8.0, 8.0 + h / 2, h)
    y = fn(torch.tensor(x, dtype=torch.float64)).numpy()
    d = np.diff(y) / h
    jumps = np.flatnonzero(np.abs(np.diff(d)) > 0.05)
    points = x[jumps + 1]
    return sorted({round(float(p), 2) for p in points})


@pytest.mark.parametrize("r", [r for r in CATALOGUE if r.theory], ids=lambda r: r.name)
def test_theory_cuts_the_quadrature_at_every_kink(r):
    params = {**r.defaults(), **dict(zip([p.name for p in r.params], ARGS.get(r.name, ())))}
    fn = activation_callable(r.name, params)
    kinks = set(r.kink_points(params)) | {0.0}
    for jump in _derivative_jumps(fn):
        assert any(abs(jump - k) <= 2e-3 for k in kinks), (r.name, jump, kinks)
    if r.name in GAIN_NAMES:
        assert _Phi(r.name).kinks == r.kink_points()
        assert math.isfinite(variance_map(1.0, r.name, 1.0))
    for cls in r.module_classes():
        assert _kinks(_module(r, cls)) == r.kink_points(params)


def test_theory_refuses_what_it_does_not_support():
    unsupported = [r for r in DETECTED if not r.theory]
    assert [r.name for r in unsupported] == ["rrelu"]
    with pytest.raises(initlab.InitlabError, match=r"model: got module '1' \(RReLU\), which the mean-field chain prediction does not support"):
        predict_model(nn.Sequential(nn.Linear(4, 4), nn.RReLU(), nn.Linear(4, 2)))


# --------------------------------------------------------------------------- experiments and presets


def test_experiments_build_every_stateless_activation_by_name():
    for r in CATALOGUE:
        buildable = r.stateless and (r.modules or r.build) and all(p.default is not REQUIRED for p in r.params)
        assert (r.name in ACTIVATIONS) == bool(buildable), r.name
        if buildable:
            assert ACTIVATIONS[r.name] is getattr(nn, r.build or r.modules[0])
    assert ACTIVATIONS["swish"] is nn.SiLU and ACTIVATIONS["identity"] is nn.Identity


def test_presets_recommend_the_auto_scheme():
    assert RECOMMENDED == {a: ROWS[a].auto for a in GUIDE_ACTIVATIONS}
