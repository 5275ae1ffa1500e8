"""The laws of Keras's and JAX's built-in initializers, derived here by hand from their documented
formulas (not read from initlab), and the checks that a sample follows one.

A law is a tuple: ``("normal", mean, std)``, ``("uniform", low, high)``,
``("truncnorm", loc, scale, a, b)`` (bounds in units of ``scale``), ``("constant", value)``,
``("orthogonal", gain)``, ``("identity", gain)`` or ``("delta_orthogonal", gain)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stats import as_float64, assert_law, assert_same_law, frozen_law, ks_pvalue

KERAS_TRUNC = 0.87962566103423978  # std of N(0, 1) on [-2, 2], the literal in Keras and JAX

# Keras's named initializers as VarianceScaling(scale, mode, distribution), from their docstrings
KERAS_NAMED = {"GlorotUniform": (1.0, "fan_avg", "uniform"), "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
               "HeUniform": (2.0, "fan_in", "uniform"), "HeNormal": (2.0, "fan_in", "truncated_normal"),
               "LecunUniform": (1.0, "fan_in", "uniform"), "LecunNormal": (1.0, "fan_in", "truncated_normal")}
JAX_NAMED = {"glorot_uniform": (1.0, "fan_avg", "uniform"), "xavier_uniform": (1.0, "fan_avg", "uniform"),
             "glorot_normal": (1.0, "fan_avg", "truncated_normal"), "xavier_normal": (1.0, "fan_avg", "truncated_normal"),
             "he_uniform": (2.0, "fan_in", "uniform"), "kaiming_uniform": (2.0, "fan_in", "uniform"),
             "he_normal": (2.0, "fan_in", "truncated_normal"), "kaiming_normal": (2.0, "fan_in", "truncated_normal"),
             "lecun_uniform": (1.0, "fan_in", "uniform"), "lecun_normal": (1.0, "fan_in", "truncated_normal")}

DENSE = (512, 256)
CONV = (3, 3, 64, 128)


def fans(shape) -> tuple[int, int]:
    """Keras's and JAX's default fans: the last two axes are (in, out), the rest the receptive field."""
    rf = math.prod(shape[:-2])
    return shape[-2] * rf, shape[-1] * rf


def variance_scaling_law(scale, mode, distribution, shape):
    fi, fo = fans(shape)
    n = {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2, "fan_geo_avg": math.sqrt(fi * fo)}[mode]
    var = scale / n
    if distribution == "truncated_normal":
        return ("truncnorm", 0.0, math.sqrt(var) / KERAS_TRUNC, -2.0, 2.0)
    if distribution == "normal":
        return ("normal", 0.0, math.sqrt(var))
    return ("uniform", -math.sqrt(3 * var), math.sqrt(3 * var))


def keras_law(spelling: str, kw: dict, shape):
    """The law of ``keras.initializers.<spelling>(**kw)`` on ``shape``."""
    if spelling in ("Zeros", "Ones", "Constant"):
        return ("constant", {"Zeros": 0.0, "Ones": 1.0}.get(spelling, kw.get("value", 0.0)))
    if spelling == "RandomNormal":
        return ("normal", kw.get("mean", 0.0), kw.get("stddev", 0.05))
    if spelling == "RandomUniform":
        return ("uniform", kw.get("minval", -0.05), kw.get("maxval", 0.05))
    if spelling == "TruncatedNormal":  # values beyond 2 stddev are redrawn; stddev not corrected
        return ("truncnorm", kw.get("mean", 0.0), kw.get("stddev", 0.05), -2.0, 2.0)
    if spelling == "VarianceScaling":
        dist = {"normal": "truncated_normal", "untruncated_normal": "normal"}.get(
            kw.get("distribution", "truncated_normal"), kw.get("distribution", "truncated_normal"))
        return variance_scaling_law(kw.get("scale", 1.0), kw.get("mode", "fan_in"), dist, shape)
    if spelling in KERAS_NAMED:
        return variance_scaling_law(*KERAS_NAMED[spelling], shape)
    if spelling == "Orthogonal":
        return ("orthogonal", kw.get("gain", 1.0))
    if spelling == "Identity":
        return ("identity", kw.get("gain", 1.0))
    raise AssertionError(spelling)


def jax_law(spelling: str, kw: dict, shape):
    """The law of ``jax.nn.initializers.<spelling>(**kw)`` on ``shape``."""
    if spelling in ("zeros", "ones", "constant"):
        return ("constant", {"zeros": 0.0, "ones": 1.0}.get(spelling, kw.get("value")))
    if spelling == "normal":
        return ("normal", 0.0, kw.get("stddev", 1e-2))
    if spelling == "uniform":
        return ("uniform", 0.0, kw.get("scale", 1e-2))
    if spelling == "truncated_normal":
        return ("truncnorm", 0.0, kw.get("stddev", 1e-2), kw.get("lower", -2.0), kw.get("upper", 2.0))
    if spelling == "variance_scaling":
        return variance_scaling_law(kw["scale"], kw["mode"], kw["distribution"], shape)
    if spelling in JAX_NAMED:
        return variance_scaling_law(*JAX_NAMED[spelling], shape)
    if spelling == "orthogonal":
        return ("orthogonal", kw.get("scale", 1.0))
    if spelling == "delta_orthogonal":
        return ("delta_orthogonal", kw.get("scale", 1.0))
    raise AssertionError(spelling)


def law_std(law) -> float:
    kind, *p = law
    if kind == "normal":
        return p[1]
    if kind == "uniform":
        return (p[1] - p[0]) / math.sqrt(12)
    if kind == "truncnorm":
        loc, scale, a, b = p
        from scipy import stats as sps

        return float(sps.truncnorm(a, b, loc=loc, scale=scale).std())
    raise AssertionError(kind)


def assert_sample_follows(x, law, shape, *, alpha: float = 1e-5, strict: bool = False) -> None:  # noqa: C901
    """``x`` (an array of ``shape``) follows ``law``: a KS test, the std within 1 %, bounds kept and
    reached (the extreme values within 1 % of the range of the bounds) — or exactly, for the
    deterministic laws and the orthogonal structure. ``strict``: no value beyond a bound as the
    sample's dtype rounds it (initlab's guarantee); otherwise a float32 rounding step is allowed
    (Keras and JAX scale a unit draw by a rounded factor, which can step one ulp past the bound)."""
    raw = np.asarray(x)
    x = raw.astype(np.float64).reshape(shape)
    kind, *p = law
    if kind == "constant":
        assert np.array_equal(x, np.full(shape, p[0])), f"not all {p[0]}"
        return
    if kind == "identity":
        assert np.array_equal(x, p[0] * np.eye(*shape)), "not gain·I"
        return
    if kind in ("orthogonal", "delta_orthogonal"):
        gain = p[0]
        if kind == "delta_orthogonal":
            centre = tuple((k - 1) // 2 for k in shape[:-2])
            mask = np.zeros(shape, bool)
            mask[centre] = True
            assert not np.any(x[~mask]), "delta orthogonal: nonzero outside the kernel centre"
            m = x[centre]
        else:
            m = x.reshape(-1, shape[-1])
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, gain * gain * np.eye(gram.shape[0]), atol=2e-5 * gain * gain)
        return
    values = as_float64(x)
    if strict:
        assert_law(raw, law, alpha=alpha)
    else:
        p_value = ks_pvalue(values, frozen_law(law).cdf)
        assert p_value > alpha, f"KS test rejects {law} (p = {p_value:.3g})"
    std = law_std(law)
    assert values.std() == pytest.approx(std, rel=0.01), f"std {values.std():.6g} vs {std:.6g}"
    if kind in ("uniform", "truncnorm"):
        low, high = (p[0], p[1]) if kind == "uniform" else (p[0] + p[2] * p[1], p[0] + p[3] * p[1])
        width = high - low
        tol = 1e-6 * width  # float32 rounding of the bounds
        assert values.min() >= low - tol and values.max() <= high + tol, "a value outside the bounds"
        assert values.min() - low < 0.01 * width and high - values.max() < 0.01 * width, "bounds not reached"


def assert_initlab_law(dist, law) -> None:
    """initlab's ``Distribution`` is ``law`` (to 1e-12)."""
    kind, *p = law
    approx = lambda v: pytest.approx(v, rel=1e-12, abs=1e-15)  # noqa: E731
    if kind == "constant":
        assert dist.family == "constant" and dist.params["value"] == approx(p[0])
    elif kind == "normal":
        assert dist.family == "normal" and (dist.mean, dist.std) == (approx(p[0]), approx(p[1]))
    elif kind == "uniform":
        assert dist.family == "uniform" and (dist.low, dist.high) == (approx(p[0]), approx(p[1]))
    elif kind == "truncnorm":
        q = dist.params
        assert dist.family == "truncated_normal"
        assert (q["loc"], q["scale"], q["a"], q["b"]) == (approx(p[0]), approx(p[1]), approx(p[2]), approx(p[3]))
    else:
        assert dist.family == kind and dist.params["gain"] == approx(p[0])


def assert_same_structured(ours, theirs) -> None:
    """Two structured samples (orthogonal …) with entries from one law (two-sample KS)."""
    assert_same_law(np.asarray(ours).reshape(-1), np.asarray(theirs).reshape(-1))
