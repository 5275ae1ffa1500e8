"""How a Keras or JAX weight maps onto initlab's distribution call — written once for both adapters.

Keras and JAX store a kernel ``(*k, in, out)``; a few layers store something else. Each *kind*
names one storage and the fan rule initlab applies to it (the layer's math, per group):

==================  ==========================================  =========================================
kind                stored shape (Keras layer)                  fans
==================  ==========================================  =========================================
``kernel``          ``(*k, in/g, out)`` Dense, Conv1D/2D/3D     fan_in = in/g·∏k, fan_out = out/g·∏k
                    (``groups=g``), SeparableConv pointwise,
                    recurrent kernels
``conv_transpose``  ``(*k, out, in)`` Conv1D/2D/3DTranspose     fan_in = in·∏k, fan_out = out·∏k (axes
                                                                swapped: Keras itself takes
                                                                fan_in = out·∏k from the raw shape)
``depthwise``       ``(*k, in, m)`` DepthwiseConv, Separable-   a grouped conv with g = in:
                    Conv depthwise kernel (m = depth_multiplier) fan_in = ∏k, fan_out = m·∏k (Keras takes
                                                                fan_in = in·∏k)
``embedding``       ``(input_dim, output_dim)`` Embedding       the torch rule for the same table:
                                                                fan_in = output_dim (Keras: input_dim)
==================  ==========================================  =========================================

``gates=G`` splits the last axis into G blocks (LSTM 4, GRU 3: Keras's ``(in, G·units)`` kernel and
``(units, G·units)`` recurrent kernel), each with its own fans (``fan_out = units``) and its own
random stream (key suffix ``#g``); ``gates=1`` takes fans over the whole kernel, as Keras does.

Explicit ``in_axis``/``out_axis``/``batch_axes`` (JAX's ``in_axis``/``out_axis``/``batch_axis``; each
an int or a sequence of ints) override the kind: batch axes count neither as fan nor as receptive
field; a sequence of axes counts as one axis of their product.

Schemes that initlab defines on the torch layout (``dirac``, ``delta_orthogonal``: the kernel
centre; ``sparse``: zeros per input column; ``torch_default``: PyTorch's fan from the stored
shape) are drawn on the torch-ordered view ``(out, in, *k)`` of the same weight and transposed
back, so they mean the same thing in every framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import InitlabError, check_choice, check_int, fail
from ..schemes.spec import Distribution, Initializer

__all__ = ["KINDS", "TORCH_LAYOUT_SCHEMES", "Block", "resolve", "apply_steps"]

KINDS = ("kernel", "conv_transpose", "depthwise", "embedding")
TORCH_LAYOUT_SCHEMES = ("dirac", "delta_orthogonal", "sparse", "torch_default")


@dataclass(frozen=True)
class Block:
    """One independently drawn part of a weight: initlab resolves ``dist`` for ``view`` with ``call``
    (the keyword arguments of :meth:`Initializer.distribution` / :meth:`Initializer.numpy`); the drawn
    ``view``-shaped array becomes the block by ``steps`` (``("transpose", perm)``/``("reshape", shape)``),
    and the blocks are joined along the last axis. ``suffix`` extends the random stream's key."""

    dist: Distribution
    view: tuple[int, ...]
    call: dict
    steps: tuple = ()
    suffix: str = ""
    shape: tuple[int, ...] = field(default=())


def apply_steps(array, steps, xp):
    """``array`` after ``steps`` (NumPy or ``jax.numpy`` as ``xp``)."""
    for op, arg in steps:
        array = xp.transpose(array, arg) if op == "transpose" else xp.reshape(array, arg)
    return array


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _to_torch(ndim: int) -> tuple[int, ...]:
    """The permutation of a ``(*k, a, b)`` array that gives ``(b, a, *k)``."""
    return (ndim - 1, ndim - 2, *range(ndim - 2))


def _axes(name: str, value, ndim: int) -> tuple[int, ...]:
    items = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        raise fail(name, value, "an axis (int) or a sequence of axes") from None
    out = []
    for a in items:
        a = check_int(name, a)
        if not -ndim <= a < ndim:
            raise fail(name, value, f"axes of a {ndim}-D shape, {-ndim}..{ndim - 1}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise fail(name, value, "distinct axes")
    return tuple(out)


def _plain(init: Initializer, shape, layout: str, groups: int, steps: tuple = (), *, swap: bool = False) -> tuple:
    """(view, call, steps) for a kernel stored ``(*k, in, out)`` (``(*k, out, in)`` with ``swap``) in
    ``layout`` keras/jax, or, for the torch-layout schemes, its torch-ordered view."""
    if init.name in TORCH_LAYOUT_SCHEMES and len(shape) >= 2:
        perm = _to_torch(len(shape))
        view = tuple(shape[i] for i in perm)
        call = {"layout": "torch", "groups": groups, **({"transposed": True} if swap else {})}
        return view, call, (("transpose", _inverse(perm)), *steps)
    call = {"layout": layout, "groups": groups}
    if swap:
        call.update(in_axis=len(shape) - 1, out_axis=len(shape) - 2)
    return tuple(shape), call, steps


def _one(init: Initializer, shape: tuple, kind: str, groups: int, layout: str, axes) -> tuple:
    if axes is not None:
        return _explicit(init, shape, *axes)
    if kind == "embedding":
        if len(shape) != 2:
            raise fail("shape", shape, "a 2-D (input_dim, output_dim) embedding table")
        return tuple(shape), {"layout": "torch"}, ()
    if kind == "depthwise":
        if len(shape) < 3:
            raise fail("shape", shape, "a depthwise kernel (*kernel_size, in_channels, depth_multiplier), 3-D to 5-D")
        *k, c_in, mult = shape
        grouped = (*k, 1, c_in * mult)  # the same memory as a grouped conv with one input channel per group
        return _plain(init, grouped, layout, c_in, (("reshape", tuple(shape)),))
    if kind == "conv_transpose":
        if len(shape) < 3:
            raise fail("shape", shape, "a transposed-conv kernel (*kernel_size, out_channels, in_channels), 3-D to 5-D")
        return _plain(init, shape, layout, groups, swap=True)
    return _plain(init, shape, layout, groups)


def _explicit(init: Initializer, shape: tuple, in_axis, out_axis, batch_axes) -> tuple:
    n = len(shape)
    ins, outs = _axes("in_axis", in_axis, n), _axes("out_axis", out_axis, n)
    batch = _axes("batch_axis", batch_axes, n)
    if set(ins) & set(outs) or (set(ins) | set(outs)) & set(batch):
        raise InitlabError(f"in_axis, out_axis, batch_axis: got {in_axis!r}, {out_axis!r}, {batch_axes!r} for shape "
                           f"{shape}; allowed: axes that do not overlap")
    rf = tuple(a for a in range(n) if a not in ins + outs + batch)
    perm = (*batch, *rf, *ins, *outs)
    merged = (*((math.prod(shape[a] for a in batch),) if batch else ()), *(shape[a] for a in rf),
              math.prod(shape[a] for a in ins), math.prod(shape[a] for a in outs))
    back = [("reshape", tuple(shape[a] for a in perm)), ("transpose", _inverse(perm))]
    if init.name in TORCH_LAYOUT_SCHEMES:
        if batch:
            raise InitlabError(f"batch_axis: got {batch_axes!r}; allowed for {init.name!r}: none (it is defined on "
                               "one (out, in, *kernel) weight)")
        view, call, pre = _plain(init, merged, "keras", 1)
        return view, call, (*pre, *back)
    call = {"layout": "keras", "batch_axes": (0,) if batch else ()}
    return merged, call, tuple(back)


def resolve(init: Initializer, shape: Sequence[int], *, kind: str = "kernel", groups: int = 1, gates: int = 1,
            layout: str = "keras", in_axis=None, out_axis=None, batch_axes=()) -> list[Block]:
    """The blocks a weight of ``shape`` is drawn in (see the module docstring).

    >>> import initlab
    >>> [b.dist.fans for b in resolve(initlab.get("he_normal"), (3, 3, 8, 2), kind="depthwise")]
    [Fans(fan_in=9, fan_out=18, receptive_field=9)]
    """
    kind = check_choice("kind", kind, KINDS)
    groups = check_int("groups", groups, minimum=1)
    gates = check_int("gates", gates, minimum=1)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise fail("shape", shape, "a sequence of non-negative integers") from None
    axes = None
    batch_axes = () if batch_axes is None else batch_axes
    if in_axis is not None or out_axis is not None or not (isinstance(batch_axes, tuple) and batch_axes == ()):
        if in_axis is None or out_axis is None:
            raise InitlabError(f"in_axis, out_axis: got {in_axis!r}, {out_axis!r}; allowed: both, or neither")
        if kind != "kernel" or gates != 1:
            raise InitlabError(f"in_axis, out_axis: got explicit axes with kind={kind!r}, gates={gates}; allowed: "
                               "explicit axes with kind='kernel' and gates=1")
        axes = (in_axis, out_axis, batch_axes)
    if gates > 1:
        if not shape or shape[-1] % gates:
            raise fail("gates", gates, f"a divisor of the last axis of shape {shape} (the gate blocks)")
        part = (*shape[:-1], shape[-1] // gates)
        parts = [(part, f"#{g}") for g in range(gates)]
    else:
        parts = [(shape, "")]
    blocks = []
    for part_shape, suffix in parts:
        view, call, steps = _one(init, part_shape, kind, groups, layout, axes)
        dist = init.distribution(view, **call)
        blocks.append(Block(dist, view, call, tuple(steps), suffix, part_shape))
    return blocks
