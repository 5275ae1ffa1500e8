"""Every initialization scheme, as a frozen dataclass.

One core, :class:`VarianceScaling` (Var = scale / fan), and the named schemes — Glorot/Xavier,
He/Kaiming, LeCun — are thin specialisations of it. Conventions (see the README's table):

* ``gain`` multiplies the **std** (PyTorch); ``scale`` multiplies the **variance** (Keras/JAX):
  ``scale = gain²``.
* initlab's ``*_normal`` are the textbook, **untruncated** normals (``he_normal`` is
  N(0, 2/fan_in)). ``*_truncated_normal`` are truncated at ±2σ with the std divided by
  0.87962566103423978 (the std of a standard normal truncated to [−2, 2]) so that the variance
  is still the target — this is what Keras's ``HeNormal``/``GlorotNormal``/``LecunNormal`` and
  JAX's ``he_normal``/``glorot_normal``/``lecun_normal`` draw.
* Truncation bounds are in units of σ (``truncated_normal``), or absolute in ``trunc_normal``,
  which matches ``torch.nn.init.trunc_normal_``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from ..errors import check_choice, check_finite, check_int, check_number, check_positive, fail
from ._normal import truncnorm_moments
from .fans import FAN_MODES, Fans, check_shape, compute_fans
from .gains import calculate_gain
from .spec import Distribution, Initializer

__all__ = [
    "Constant", "Zeros", "Ones", "RandomNormal", "RandomUniform", "TruncatedNormal", "TruncNormal",
    "VarianceScaling", "GlorotNormal", "GlorotUniform", "GlorotTruncatedNormal", "HeNormal", "HeUniform",
    "HeTruncatedNormal", "LecunNormal", "LecunUniform", "LecunTruncatedNormal", "Orthogonal", "Identity",
    "Dirac", "DeltaOrthogonal", "Sparse", "TorchDefault", "CallableInitializer", "SCHEMES",
    "TRUNCATION_STD_CORRECTION",
]

TRUNCATION_STD_CORRECTION = truncnorm_moments(-2.0, 2.0)[1]
"""Std of N(0, 1) truncated to [−2, 2] = 0.8796256610342398 (Keras/JAX's constant)."""

DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")


def _normal(mean: float, std: float) -> Distribution:
    return Distribution("normal", (), mean, std, params={"mean": mean, "std": std})


def _uniform(low: float, high: float) -> Distribution:
    return Distribution("uniform", (), (low + high) / 2, (high - low) / math.sqrt(12.0), low, high,
                        params={"low": low, "high": high})


def _truncated(loc: float, scale: float, a: float, b: float) -> Distribution:
    m, s = truncnorm_moments(a, b)
    return Distribution("truncated_normal", (), loc + scale * m, scale * s, loc + a * scale, loc + b * scale,
                        params={"loc": loc, "scale": scale, "a": a, "b": b})


# -- constants ------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Constant(Initializer):
    """Every entry equal to ``value``. Breaks nothing and learns nothing distinct: all units of a layer
    stay identical (the symmetry problem). Also known as ``constant_`` (PyTorch), ``Constant`` (Keras)."""

    value: float = 0.0
    name: ClassVar[str] = "constant"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "W = value"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        v = check_finite("value", self.value)
        return Distribution("constant", (), v, 0.0, v, v, params={"value": v})


@dataclass(frozen=True, repr=False)
class Zeros(Initializer):
    """All zeros (``zeros_`` in PyTorch, ``Zeros`` in Keras): the usual bias init; as a weight init,
    every unit of a layer computes the same thing forever."""

    name: ClassVar[str] = "zeros"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "W = 0"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        return Constant(0.0)._resolve(shape, fans, layout)


@dataclass(frozen=True, repr=False)
class Ones(Initializer):
    """All ones (``ones_`` / ``Ones``): the usual scale init of normalization layers."""

    name: ClassVar[str] = "ones"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "W = 1"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        return Constant(1.0)._resolve(shape, fans, layout)


# -- fixed-parameter random laws --------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class RandomNormal(Initializer):
    """N(mean, std²), untruncated. Defaults are Keras's ``RandomNormal`` (std 0.05); the explainers'
    "naive" ``np.random.normal(0, 1) * 0.01`` is ``random_normal(std=0.01)``. PyTorch: ``normal_``."""

    mean: float = 0.0
    std: float = 0.05
    name: ClassVar[str] = "random_normal"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "N(mean, std²)"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        return _normal(check_finite("mean", self.mean), check_positive("std", self.std))


@dataclass(frozen=True, repr=False)
class RandomUniform(Initializer):
    """U(minval, maxval). Defaults are Keras's ``RandomUniform`` (±0.05). PyTorch: ``uniform_(a, b)``."""

    minval: float = -0.05
    maxval: float = 0.05
    name: ClassVar[str] = "random_uniform"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "U(minval, maxval)"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        lo, hi = check_finite("minval", self.minval), check_finite("maxval", self.maxval)
        if lo >= hi:
            raise fail("minval, maxval", (self.minval, self.maxval), "minval < maxval")
        return _uniform(lo, hi)


def _check_ab(a, b) -> tuple[float, float]:
    """Truncation bounds: numbers (±∞ allowed), a < b."""
    for arg, v in (("a", a), ("b", b)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v):
            raise fail(arg, v, "a number (±inf allowed)")
    a, b = float(a), float(b)
    if a >= b:
        raise fail("a, b", (a, b), "a < b")
    return a, b


@dataclass(frozen=True, repr=False)
class TruncatedNormal(Initializer):
    """N(mean, std²) truncated to [mean + a·std, mean + b·std]; bounds **in units of std**.

    ``std`` is the parent normal's σ (as in Keras's ``TruncatedNormal`` and PyTorch's
    ``trunc_normal_``): the values' own std is smaller, std·√(1 + (aφ(a) − bφ(b))/Z − ((φ(a) − φ(b))/Z)²),
    Z = Φ(b) − Φ(a); :meth:`distribution` reports it. Defaults equal Keras's ``TruncatedNormal``.
    """

    mean: float = 0.0
    std: float = 0.05
    a: float = -2.0
    b: float = 2.0
    name: ClassVar[str] = "truncated_normal"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "N(mean, std²) on [mean+a·std, mean+b·std]"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        a, b = _check_ab(self.a, self.b)
        return _truncated(check_finite("mean", self.mean), check_positive("std", self.std), a, b)


@dataclass(frozen=True, repr=False)
class TruncNormal(Initializer):
    """N(mean, std²) truncated to the **absolute** interval [a, b] — the signature and meaning of
    ``torch.nn.init.trunc_normal_`` (defaults mean 0, std 1, a −2, b 2)."""

    mean: float = 0.0
    std: float = 1.0
    a: float = -2.0
    b: float = 2.0
    name: ClassVar[str] = "trunc_normal"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "N(mean, std²) on [a, b] (absolute)"
    source: ClassVar[str] = "—"

    def _resolve(self, shape, fans, layout, *, groups=1):
        a, b = _check_ab(self.a, self.b)
        mean, std = check_finite("mean", self.mean), check_positive("std", self.std)
        return _truncated(mean, std, (a - mean) / std, (b - mean) / std)


# -- the variance-scaling core ---------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class VarianceScaling(Initializer):
    """Var(W) = scale / n, with n the fan that ``mode`` names (fan_in, fan_out, fan_avg = (in+out)/2,
    fan_geo_avg = √(in·out)), drawn from ``distribution``:

    * ``normal``: N(0, scale/n), untruncated;
    * ``truncated_normal``: truncated at ±2σ, σ = √(scale/n) / 0.87962566103423978, so the variance is
      still scale/n (Keras's ``VarianceScaling`` and JAX's ``variance_scaling``);
    * ``uniform``: U(±√(3·scale/n)).

    Defaults equal Keras's ``VarianceScaling()``. Glorot, He and LeCun are specialisations.

    ``input_axes``/``output_axes`` (Keras 3's arguments, both or neither) replace the layout's fans by
    products of sizes: fan_in = ∏ shape[input_axes], fan_out = ∏ shape[output_axes], with no receptive
    field, as Keras computes them.

    >>> d = VarianceScaling(2.0, "fan_in", "normal", input_axes=[0, 1, 2], output_axes=[3])
    >>> d.distribution((3, 3, 64, 128)).fans
    Fans(fan_in=576, fan_out=128, receptive_field=1)
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution_: str = "truncated_normal"
    input_axes: tuple | None = None
    output_axes: tuple | None = None
    name: ClassVar[str] = "variance_scaling"
    formula: ClassVar[str] = "Var = scale / fan(mode)"
    source: ClassVar[str] = "Keras/JAX variance_scaling"

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", *,
                 input_axes: Sequence[int] | None = None, output_axes: Sequence[int] | None = None,
                 seed: int | None = None):
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "distribution_", distribution)
        object.__setattr__(self, "input_axes", _axes("input_axes", input_axes))
        object.__setattr__(self, "output_axes", _axes("output_axes", output_axes))
        object.__setattr__(self, "seed", None if seed is None else check_int("seed", seed))

    def params(self) -> dict:
        p = {"scale": self.scale, "mode": self.mode, "distribution": self.distribution_}
        if self.input_axes is not None or self.output_axes is not None:
            p["input_axes"] = None if self.input_axes is None else list(self.input_axes)
            p["output_axes"] = None if self.output_axes is None else list(self.output_axes)
        return p

    def _fans(self, shape, layout, **kwargs) -> Fans:
        if self.input_axes is None and self.output_axes is None:
            return compute_fans(shape, layout, **kwargs)
        if self.input_axes is None or self.output_axes is None:
            raise fail("input_axes, output_axes", (self.input_axes, self.output_axes), "both, or neither")
        shape = check_shape(shape)
        n = len(shape)
        fan_in = math.prod(shape[check_int("input_axes", a, minimum=-n, maximum=n - 1)] for a in self.input_axes)
        fan_out = math.prod(shape[check_int("output_axes", a, minimum=-n, maximum=n - 1)] for a in self.output_axes)
        if not fan_in or not fan_out:
            raise fail("shape", shape, "a non-empty tensor (fans are undefined for a zero-size one)")
        return Fans(fan_in, fan_out, 1)

    def std_for(self, fans: Fans) -> float:
        """The target std √(scale / fan) for these fans (before any truncation correction)."""
        scale = check_positive("scale", self.scale)
        mode = check_choice("mode", self.mode, FAN_MODES)
        return math.sqrt(scale / fans.get(mode))

    def _resolve(self, shape, fans, layout, *, groups=1):
        return self.law(self.std_for(fans))

    def law(self, std: float) -> Distribution:
        """The distribution of this core for a target std (the truncated law widens σ to keep it)."""
        dist = self.distribution_
        if isinstance(dist, str) and dist.lower() == "untruncated_normal":  # Keras's spelling
            dist = "normal"
        dist = check_choice("distribution", dist, DISTRIBUTIONS)
        if dist == "normal":
            return _normal(0.0, std)
        if dist == "uniform":
            bound = math.sqrt(3.0) * std
            return _uniform(-bound, bound)
        return _truncated(0.0, std / TRUNCATION_STD_CORRECTION, -2.0, 2.0)


def _check_gain(gain) -> float:
    return check_positive("gain", gain)


def _axes(arg: str, axes) -> tuple | None:
    """Keras's ``input_axes``/``output_axes``: ``None`` or a sequence of integers, stored as a tuple."""
    if axes is None:
        return None
    if isinstance(axes, (str, bytes)) or not isinstance(axes, Sequence):
        raise fail(arg, axes, "a list of axes (integers), or None")
    return tuple(check_int(arg, a) for a in axes)


@dataclass(frozen=True, repr=False)
class _Specialised(Initializer):
    """A named scheme = one :class:`VarianceScaling`; subclasses set ``dist`` and :meth:`core`."""

    dist: ClassVar[str] = "normal"

    def core(self) -> VarianceScaling:
        raise NotImplementedError

    def std(self, fans: Fans) -> float:
        """The target std; equal to ``core().std_for(fans)``, written with PyTorch's arithmetic where it
        has a counterpart so that float64 values match ``torch.nn.init`` bit for bit."""
        return self.core().std_for(fans)

    def _resolve(self, shape, fans, layout, *, groups=1):
        core = self.core()
        core.std_for(fans)  # validates scale and mode
        return core.law(self.std(fans))


@dataclass(frozen=True, repr=False)
class _Glorot(_Specialised):
    gain: float = 1.0
    source: ClassVar[str] = "Glorot & Bengio 2010"

    def core(self):
        return VarianceScaling(_check_gain(self.gain) ** 2, "fan_avg", self.dist)

    def std(self, fans):
        return self.gain * math.sqrt(2.0 / float(fans.fan_in + fans.fan_out))  # torch.nn.init.xavier_*


class GlorotNormal(_Glorot):
    """Glorot/Xavier normal: N(0, gain²·2/(fan_in + fan_out)) (Glorot & Bengio 2010), untruncated.
    For tanh, sigmoid, softsign. Also known as ``xavier_normal`` (PyTorch ``xavier_normal_``).

    >>> import initlab, torch
    >>> w = initlab.glorot_normal()(torch.empty(256, 784), seed=0)
    """

    name = "glorot_normal"
    formula = "N(0, gain²·2/(fan_in+fan_out))"


class GlorotUniform(_Glorot):
    """Glorot/Xavier uniform: U(±gain·√(6/(fan_in + fan_out))) (Glorot & Bengio 2010). Keras's default for
    Dense layers. Also known as ``xavier_uniform`` (PyTorch ``xavier_uniform_``), Keras ``GlorotUniform``."""

    name = "glorot_uniform"
    dist = "uniform"
    formula = "U(±gain·√(6/(fan_in+fan_out)))"


class GlorotTruncatedNormal(_Glorot):
    """Glorot normal truncated at ±2σ with variance still gain²·2/(fan_in+fan_out): what Keras's
    ``GlorotNormal`` and JAX's ``glorot_normal`` draw."""

    name = "glorot_truncated_normal"
    dist = "truncated_normal"
    formula = "TN±2σ, Var = gain²·2/(fan_in+fan_out)"


@dataclass(frozen=True, repr=False)
class _He(_Specialised):
    a: float = 0.0
    mode: str = "fan_in"
    nonlinearity: str = "leaky_relu"
    source: ClassVar[str] = "He et al. 2015"

    def _gain(self) -> float:
        return calculate_gain(self.nonlinearity, check_finite("a", self.a))

    def core(self):
        return VarianceScaling(self._gain() ** 2, self.mode, self.dist)

    def std(self, fans):
        return self._gain() / math.sqrt(fans.get(self.mode))  # torch.nn.init.kaiming_*


class HeNormal(_He):
    """He/Kaiming normal: N(0, gain²/fan), gain² = 2/(1 + a²) for leaky ReLU / PReLU with negative slope
    ``a`` (a = 0: ReLU, Var = 2/fan_in) (He et al. 2015). ``mode`` fan_in preserves the forward variance,
    fan_out the backward one. Untruncated, like PyTorch's ``kaiming_normal_`` (same arguments).
    Keras's ``HeNormal`` is :class:`HeTruncatedNormal`.
    """

    name = "he_normal"
    formula = "N(0, 2/((1+a²)·fan))"


class HeUniform(_He):
    """He/Kaiming uniform: U(±√(6/((1 + a²)·fan))) (He et al. 2015); PyTorch ``kaiming_uniform_``, Keras
    ``HeUniform``."""

    name = "he_uniform"
    dist = "uniform"
    formula = "U(±√(6/((1+a²)·fan)))"


class HeTruncatedNormal(_He):
    """He normal truncated at ±2σ, variance still 2/((1+a²)·fan): Keras's ``HeNormal``/``he_normal``
    and JAX's ``he_normal``."""

    name = "he_truncated_normal"
    dist = "truncated_normal"
    formula = "TN±2σ, Var = 2/((1+a²)·fan)"


@dataclass(frozen=True, repr=False)
class _Lecun(_Specialised):
    gain: float = 1.0
    source: ClassVar[str] = "LeCun et al. 1998; Klambauer et al. 2017"

    def core(self):
        return VarianceScaling(_check_gain(self.gain) ** 2, "fan_in", self.dist)


class LecunNormal(_Lecun):
    """LeCun normal: N(0, gain²/fan_in) (LeCun et al. 1998, "Efficient BackProp"); with SELU it keeps
    activations at mean 0, variance 1 (Klambauer et al. 2017). Untruncated; Keras's ``LecunNormal`` is
    :class:`LecunTruncatedNormal`. He et al. 2015 call this law "Xavier" (their reading of Glorot)."""

    name = "lecun_normal"
    formula = "N(0, gain²/fan_in)"


class LecunUniform(_Lecun):
    """LeCun uniform: U(±gain·√(3/fan_in)) (LeCun et al. 1998); Keras ``LecunUniform``."""

    name = "lecun_uniform"
    dist = "uniform"
    formula = "U(±√(3/fan_in))"


class LecunTruncatedNormal(_Lecun):
    """LeCun normal truncated at ±2σ, variance still 1/fan_in: Keras's ``LecunNormal`` and JAX's
    ``lecun_normal``."""

    name = "lecun_truncated_normal"
    dist = "truncated_normal"
    formula = "TN±2σ, Var = 1/fan_in"


# -- structured schemes ----------------------------------------------------------------------------------
def _flatten_2d(shape, layout) -> tuple[int, int]:
    """Rows and columns an orthogonal scheme works on: torch (out, in, *k) → (out, in·∏k);
    keras/jax (*k, in, out) → (∏k·in, out)."""
    if layout == "torch":
        return shape[0], math.prod(shape[1:])
    return math.prod(shape[:-1]), shape[-1]


def _structured(family, shape, mean_sq, mean, **params) -> Distribution:
    var = max(mean_sq - mean * mean, 0.0)
    return Distribution(family, (), mean, math.sqrt(var), params=params)


@dataclass(frozen=True, repr=False)
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013): QR of a Gaussian matrix, with the
    signs of R's diagonal folded into Q so that Q is uniformly (Haar) distributed (Mezzadri 2007).

    Tensors with more than 2 dimensions are flattened to (rows, cols): torch layout
    ``(out, in, *k)`` → ``(out, in·∏k)``; keras/jax layout ``(*k, in, out)`` → ``(∏k·in, out)``. Rows are
    orthonormal when rows ≤ cols, columns otherwise, so every entry has mean square gain²/max(rows, cols).
    With ``generator=`` (or torch's global generator): the algorithm of ``torch.nn.init.orthogonal_``,
    same generator, same values. With ``seed=``: the same law from Gaussian Householder reflectors
    without a QR (Stewart 1980), identical on every thread count.
    """

    gain: float = 1.0
    name: ClassVar[str] = "orthogonal"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 2
    formula: ClassVar[str] = "gain·Q, QᵀQ = I (QR of N(0,1))"
    source: ClassVar[str] = "Saxe et al. 2013"

    def _resolve(self, shape, fans, layout, *, groups=1):
        g = _check_gain(self.gain)
        _require_numel(shape, self.name)
        rows, cols = _flatten_2d(shape, layout)
        return _structured("orthogonal", shape, g * g / max(rows, cols), 0.0, gain=g, rows=rows, cols=cols)


def _require_numel(shape, name):
    if math.prod(shape) == 0:
        raise fail("shape", shape, f"a non-empty tensor for {name!r}")


@dataclass(frozen=True, repr=False)
class Identity(Initializer):
    """``gain`` on the main diagonal of a 2-D matrix, zeros elsewhere (rectangular allowed):
    ``torch.nn.init.eye_`` (with a gain), Keras ``Identity``. Le et al. 2015 (IRNN) use it for
    recurrent weights."""

    gain: float = 1.0
    name: ClassVar[str] = "identity"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 2
    formula: ClassVar[str] = "gain·I"
    source: ClassVar[str] = "Le et al. 2015"

    def _resolve(self, shape, fans, layout, *, groups=1):
        g = _check_gain(self.gain)
        if len(shape) != 2:
            raise fail("shape", shape, "a 2-D tensor for 'identity' (use 'dirac' for convolutions)")
        _require_numel(shape, self.name)
        frac = min(shape) / math.prod(shape)
        return _structured("identity", shape, g * g * frac, g * frac, gain=g)


@dataclass(frozen=True, repr=False)
class Dirac(Initializer):
    """The Dirac delta for a convolution (torch layout ``(out, in, *k)``, 3-D to 5-D): ``gain`` at the
    kernel centre of output channel d of each group from input channel d, so the layer passes its
    input through unchanged (``torch.nn.init.dirac_``, Zagoruyko & Komodakis 2017)."""

    groups: int = 1
    gain: float = 1.0
    name: ClassVar[str] = "dirac"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 3
    formula: ClassVar[str] = "W[g·o+d, d, centre] = gain"
    source: ClassVar[str] = "Zagoruyko & Komodakis 2017"

    def _resolve(self, shape, fans, layout, *, groups=1):
        g = _check_gain(self.gain)
        if layout != "torch":
            raise fail("layout", layout, "'torch' for 'dirac' (out, in, *k)")
        if not 3 <= len(shape) <= 5:
            raise fail("shape", shape, "a 3-D to 5-D conv weight for 'dirac'")
        for v in (self.groups, groups):
            check_int("groups", v, minimum=1)
        if self.groups != 1 and groups != 1 and groups != self.groups:
            raise fail("groups", groups, f"{self.groups} at call time for dirac(groups={self.groups}), or 1")
        n_groups = groups if groups != 1 else self.groups  # the call-time value, like every scheme's fans
        if shape[0] % n_groups:
            raise fail("groups", n_groups, f"a divisor of the {shape[0]} output channels of shape {shape}")
        _require_numel(shape, self.name)
        ones = n_groups * min(shape[0] // n_groups, shape[1])
        n = math.prod(shape)
        return _structured("dirac", shape, g * g * ones / n, g * ones / n, gain=g, groups=n_groups)


@dataclass(frozen=True, repr=False)
class DeltaOrthogonal(Initializer):
    """Delta-orthogonal conv kernel (Xiao et al. 2018, "Dynamical isometry and a mean field theory of CNNs"):
    zero everywhere except the spatial centre, which holds gain × an (out, in) matrix with orthonormal
    columns. Needs out ≥ in (torch layout ``(out, in, *k)``, 3-D to 5-D)."""

    gain: float = 1.0
    name: ClassVar[str] = "delta_orthogonal"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 3
    formula: ClassVar[str] = "W[:, :, centre] = gain·H, HᵀH = I"
    source: ClassVar[str] = "Xiao et al. 2018"

    def _resolve(self, shape, fans, layout, *, groups=1):
        g = _check_gain(self.gain)
        if layout != "torch":
            raise fail("layout", layout, "'torch' for 'delta_orthogonal' (out, in, *k)")
        if not 3 <= len(shape) <= 5:
            raise fail("shape", shape, "a 3-D to 5-D conv weight for 'delta_orthogonal'")
        _require_numel(shape, self.name)
        if shape[0] < shape[1]:
            raise fail("shape", shape, "out_channels >= in_channels for 'delta_orthogonal' (here "
                       f"{shape[1]} input channels > {shape[0]} output channels)")
        n = math.prod(shape)
        return _structured("delta_orthogonal", shape, g * g * shape[1] / n, 0.0, gain=g)


@dataclass(frozen=True, repr=False)
class Sparse(Initializer):
    """Sparse init (Martens 2010, "Deep learning via Hessian-free optimization"): N(0, std²) entries with
    ⌈sparsity·rows⌉ entries of each column set to zero (2-D only, like ``torch.nn.init.sparse_``)."""

    sparsity: float = 0.1
    std: float = 0.01
    name: ClassVar[str] = "sparse"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 2
    formula: ClassVar[str] = "N(0, std²), ⌈sparsity·rows⌉ zeros per column"
    source: ClassVar[str] = "Martens 2010"

    def _resolve(self, shape, fans, layout, *, groups=1):
        s = check_number("sparsity", self.sparsity, minimum=0.0, maximum=1.0, open_max=True)
        std = check_positive("std", self.std)
        if len(shape) != 2:
            raise fail("shape", shape, "a 2-D tensor for 'sparse'")
        _require_numel(shape, self.name)
        rows = shape[0]
        nz = math.ceil(s * rows)
        return _structured("sparse", shape, std * std * (rows - nz) / rows, 0.0, std=std, zeros_per_column=nz,
                           sparsity=float(s))


@dataclass(frozen=True, repr=False)
class TorchDefault(Initializer):
    """What PyTorch's ``reset_parameters`` gives ``nn.Linear``/``nn.Conv*d``/``nn.ConvTranspose*d``:
    ``kaiming_uniform_(a=√5)``, i.e. U(±1/√fan_in) with PyTorch's own fan_in = shape[1]·∏kernel (the raw
    stored shape — for a transposed conv that is out/groups·∏k); and their bias U(±1/√fan_in).

    A 1-D tensor (a bias) needs ``fan_in`` = the weight's fan_in. ``initlab.initialize(model,
    "torch_default")`` also reproduces the defaults of ``nn.Embedding`` (N(0, 1)), RNN/LSTM/GRU
    (U(±1/√hidden_size)), ``nn.MultiheadAttention`` and normalization layers.
    """

    fan_in: int | None = None
    name: ClassVar[str] = "torch_default"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "U(±1/√fan_in)"
    source: ClassVar[str] = "PyTorch nn.Linear.reset_parameters"

    def _resolve(self, shape, fans, layout, *, groups=1):
        if self.fan_in is not None:
            fan = check_int("fan_in", self.fan_in, minimum=1)
        elif len(shape) >= 2:
            if math.prod(shape) == 0:
                raise fail("shape", shape, "a non-empty tensor (fans are undefined for a zero-size one)")
            fan = shape[1] * math.prod(shape[2:])
        else:
            raise fail("shape", shape, "a tensor of 2 or more dimensions for 'torch_default', or fan_in= for a "
                       "bias (the fan_in of its layer's weight)")
        # PyTorch's arithmetic, so that the same generator gives the same values
        bound = math.sqrt(3.0) * (math.sqrt(2.0 / (1 + 5)) / math.sqrt(fan)) if len(shape) >= 2 and \
            self.fan_in is None else 1.0 / math.sqrt(fan)
        return _uniform(-bound, bound)


@dataclass(frozen=True, repr=False)
class CallableInitializer(Initializer):
    """Wraps a user's function ``fn(tensor)`` that fills a torch tensor in place. It cannot be inspected
    (family ``custom``, mean and std unknown) and has no JSON config."""

    fn: Callable | None = None
    name: ClassVar[str] = "callable"
    needs_fans: ClassVar[bool] = False
    formula: ClassVar[str] = "fn(tensor)"
    source: ClassVar[str] = "user"

    def _resolve(self, shape, fans, layout, *, groups=1):
        return Distribution("custom", (), math.nan, math.nan, params={"fn": self.fn})

    def numpy(self, *args, **kwargs):
        raise fail("scheme", self.fn, "a named scheme (a callable initializer fills torch tensors only)")

    def to_config(self) -> dict:
        raise fail("scheme", self.fn, "a named scheme (a callable initializer has no JSON config)")


SCHEMES: tuple[type[Initializer], ...] = (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, TruncNormal, VarianceScaling,
    GlorotNormal, GlorotUniform, GlorotTruncatedNormal, HeNormal, HeUniform, HeTruncatedNormal,
    LecunNormal, LecunUniform, LecunTruncatedNormal, Orthogonal, Identity, Dirac, DeltaOrthogonal, Sparse,
    TorchDefault,
)
