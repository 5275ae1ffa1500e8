"""Fan-in and fan-out of a weight tensor, from its shape and layout.

A unit's *fan_in* is the number of inputs that feed it; its *fan_out* is the number of units it
feeds. For a convolution both include the receptive field (the product of the kernel sizes).

Layouts (where the anchors disagree):

=============  ================================  ==========================================
layout         stored shape                      used by
=============  ================================  ==========================================
``"torch"``    ``(out, in, *kernel)``            ``nn.Linear``, ``nn.Conv*d``
``"keras"``    ``(*kernel, in, out)``            Keras ``Dense``/``Conv*D``, JAX/Flax
``"jax"``      same as ``"keras"``
=============  ================================  ==========================================

Explicit axes (``in_axis``, ``out_axis``, ``batch_axes``) override the layout, for stacked weights
of ensembles or mixture-of-experts layers: batch axes count neither as fan nor as receptive field.

Rules, stated once:

* ``groups=g`` (grouped conv; depthwise is ``g = in_channels``): a torch weight is stored
  ``(out, in/g, *k)``, so the stored ``in`` is already per group; each input channel feeds only
  ``out/g`` output channels, so ``fan_out = (out/g)·prod(k)`` (PyTorch's own fan computation
  uses ``out·prod(k)``, which overstates fan_out by ``g``).
* ``transposed=True`` (``nn.ConvTranspose*d``, stored ``(in, out/g, *k)``): the stored axes are
  swapped with respect to the layer's math, so ``fan_in = (in/g)·prod(k)`` and
  ``fan_out = (out/g)·prod(k)`` with ``in = shape[0]``, ``out/g = shape[1]``. Stride is ignored,
  as in every library.
* 1-D tensors: ``fan_in = fan_out = n`` (Keras's rule; PyTorch refuses).
* 0-D and zero-size tensors: fans are undefined, and asking for them is an error.
* ``nn.Embedding`` (``(num_embeddings, dim)``): fan_in = ``dim``, fan_out = ``num_embeddings``
  by the torch rule; PyTorch's own default ignores fans (N(0, 1)).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

from ..errors import check_choice, check_int, check_type, fail

__all__ = ["Fans", "compute_fans", "check_shape", "LAYOUTS", "FAN_MODES"]

LAYOUTS = ("torch", "keras", "jax")


@dataclass(frozen=True)
class Fans:
    """Fan-in, fan-out and receptive-field size of one weight tensor."""

    fan_in: int
    fan_out: int
    receptive_field: int = 1

    @property
    def fan_avg(self) -> float:
        return (self.fan_in + self.fan_out) / 2.0

    @property
    def fan_geo_avg(self) -> float:
        return math.sqrt(self.fan_in * self.fan_out)

    def get(self, mode: str) -> float:
        """The fan that ``mode`` names: fan_in, fan_out, fan_avg or fan_geo_avg."""
        mode = check_choice("mode", mode, FAN_MODES)
        return float(getattr(self, mode))


FAN_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


def check_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of ints; a size that is not an integer ≥ 0 (2.5, "3", True, −1) is an error,
    never truncated.

    >>> check_shape([256, 784])
    (256, 784)
    >>> check_shape((2.5, 3))
    Traceback (most recent call last):
        ...
    initlab.errors.InitlabError: shape: got (2.5, 3); allowed: a sequence of integers >= 0
    """
    try:
        dims = tuple(shape)
    except TypeError:
        raise fail("shape", shape, "a sequence of integers >= 0") from None
    if all(type(s) is int and s >= 0 for s in dims) and not isinstance(shape, (str, bytes)):
        return dims  # the common case, without the slower checks below
    if isinstance(shape, (str, bytes)) or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in dims):
        raise fail("shape", shape, "a sequence of integers >= 0")
    return tuple(int(s) for s in dims)


def _norm_axis(axis: int, ndim: int, name: str) -> int:
    return check_int(name, axis, minimum=-ndim, maximum=ndim - 1) % ndim


def compute_fans(
    shape: Sequence[int],
    layout: str = "torch",
    *,
    groups: int = 1,
    transposed: bool = False,
    in_axis: int | None = None,
    out_axis: int | None = None,
    batch_axes: Sequence[int] = (),
) -> Fans:
    """Fans of a tensor of ``shape`` (see the module docstring for every rule).

    >>> compute_fans((256, 784))
    Fans(fan_in=784, fan_out=256, receptive_field=1)
    >>> compute_fans((3, 3, 64, 128), layout="keras")
    Fans(fan_in=576, fan_out=1152, receptive_field=9)
    """
    shape = check_shape(shape)
    layout = check_choice("layout", layout, LAYOUTS)
    if len(shape) == 0:
        raise fail("shape", shape, "a tensor with at least 1 dimension (fans are undefined for a 0-D tensor), or "
                   "a scheme that needs no fans")
    if math.prod(shape) == 0:
        raise fail("shape", shape, "a non-empty tensor (fans are undefined for a zero-size one)")
    groups = check_int("groups", groups, minimum=1)
    if len(shape) == 1:
        return Fans(shape[0], shape[0], 1)

    ndim = len(shape)
    batch_axes = check_type("batch_axes", batch_axes, (tuple, list), "a sequence of axes")
    batch = sorted({_norm_axis(a, ndim, "batch_axes") for a in batch_axes})
    if in_axis is None and out_axis is None:
        if layout == "torch":
            out_ax, in_ax = 0, 1
            if transposed:
                out_ax, in_ax = 1, 0
        else:
            in_ax, out_ax = ndim - 2, ndim - 1
        if batch:
            # stacked weights: the layout applies to the non-batch axes
            rest = [a for a in range(ndim) if a not in batch]
            if len(rest) < 2:
                raise fail("batch_axes", tuple(batch_axes), f"batch axes that leave an in and an out axis of shape "
                           f"{shape}")
            if layout == "torch":
                out_ax, in_ax = (rest[1], rest[0]) if transposed else (rest[0], rest[1])
            else:
                in_ax, out_ax = rest[-2], rest[-1]
    else:
        if in_axis is None or out_axis is None:
            raise fail("in_axis, out_axis", (in_axis, out_axis), "both, or neither")
        in_ax = _norm_axis(in_axis, ndim, "in_axis")
        out_ax = _norm_axis(out_axis, ndim, "out_axis")
        if in_ax == out_ax:
            raise fail("in_axis, out_axis", (in_axis, out_axis), "two different axes")
    if in_ax in batch or out_ax in batch:
        raise fail("batch_axes", tuple(batch_axes), "axes other than the in and out axes")
    rf = math.prod(s for a, s in enumerate(shape) if a not in (in_ax, out_ax) and a not in batch)
    n_in, n_out = shape[in_ax], shape[out_ax]
    if transposed:
        # stored (in, out/g, *k): shape[0] is the layer's input channels (all groups)
        if n_in % groups:
            raise fail("groups", groups, f"a divisor of the {n_in} input channels of shape {shape}")
        return Fans(n_in // groups * rf, n_out * rf, rf)
    if n_out % groups:
        raise fail("groups", groups, f"a divisor of the {n_out} output channels of shape {shape}")
    return Fans(n_in * rf, n_out // groups * rf, rf)
