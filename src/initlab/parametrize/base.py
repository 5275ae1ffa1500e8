"""Which dimensions of each parameter scale with width, and their base sizes.

``base`` says it in one of four ways (resolved to ``{parameter: (base size or None per axis)}``,
None meaning the axis does not scale):

* an ``int`` — the base width of a model with one width: every axis that can be a width (by its
  layer's role) and has the model's width is a width axis with that base;
* ``{model_size: base_size}`` — the base of each width of a model with several (``{256: 64, 1024: 256}``
  for ``d_model`` 256 and ``d_ffn`` 1024);
* an ``nn.Module`` — a base model of the same architecture (as ``mup.set_base_shapes`` takes): an
  axis scales where its size differs from the base model's (or from ``delta``'s, a third model that
  differs from the base in every width, for a model at the base width itself);
* ``{parameter name: shape}`` — the base model's shapes (``mup``'s ``get_shapes``), same rule.

A role fixes which axes *may* scale: not the fan-in of an input or embedding layer (the data's size),
not the fan-out of the readout (the output's size). Base shapes that say otherwise, or a
non-readout weight that maps a width to a fixed size (``mup``'s ``assert_hidden_size_inf``), are
errors that name the parameter.
"""

from __future__ import annotations

from typing import Mapping

import torch.nn as nn

from ..errors import InitlabError, fail
from ..model.structure import ParamInfo, Structure

__all__ = ["resolve_base", "BaseDims"]

BaseDims = dict[str, tuple]
"""``{parameter name: tuple of base size (int) or None per axis}``."""

_NO_IN = ("input", "embedding")


def _may_scale(info: ParamInfo, axis: int) -> bool:
    if axis == info.in_axis and info.role in _NO_IN:
        return False
    if axis == info.out_axis and info.role == "readout":
        return False
    return True


def _candidate_axes(info: ParamInfo, ndim: int) -> list[int]:
    if info.role == "other":
        return list(range(ndim))
    return [a for a in (info.in_axis, info.out_axis) if a is not None and _may_scale(info, a)]


def _chunks(info: ParamInfo, axis: int) -> int:
    return len(info.chunks) if info.chunks and axis == info.out_axis else 1


def _model_widths(structure: Structure, shapes: dict[str, tuple]) -> set[int]:
    widths = set()
    for name, info in structure.params.items():
        if info.role == "other":
            continue
        for axis in _candidate_axes(info, len(shapes[name])):
            widths.add(shapes[name][axis] // _chunks(info, axis))
    return widths


def _from_widths(structure: Structure, shapes: dict[str, tuple], widths: dict[int, int]) -> BaseDims:
    used: set[int] = set()
    out: BaseDims = {}
    for name, info in structure.params.items():
        shape = shapes[name]
        dims: list = [None] * len(shape)
        for axis in _candidate_axes(info, len(shape)):
            k = _chunks(info, axis)
            size = shape[axis] // k if shape[axis] % k == 0 else None
            if size in widths:
                dims[axis] = widths[size] * k
                used.add(size)
        out[name] = tuple(dims)
    unused = sorted(set(widths) - used)
    if unused:
        raise fail("base", widths, f"widths that occur in the model (none of its layers has width {unused[0]}; "
                   f"its widths are {sorted(_model_widths(structure, shapes))})")
    return out


def _shapes_of(obj, what: str) -> dict[str, tuple]:
    if isinstance(obj, nn.Module):
        return {n: tuple(p.shape) for n, p in obj.named_parameters()}
    if isinstance(obj, Mapping) and all(isinstance(k, str) for k in obj):
        try:
            return {k: tuple(int(s) for s in v) for k, v in obj.items()}
        except (TypeError, ValueError):
            raise fail(what, "a dict with non-shape values", "{parameter name: shape}") from None
    raise fail(what, type(obj).__name__, "an nn.Module or {parameter name: shape}")


def _from_model(structure: Structure, shapes: dict[str, tuple], base: dict[str, tuple],
                delta: dict[str, tuple] | None) -> BaseDims:
    for other, what in ((base, "base"), (delta, "delta")):
        if other is None:
            continue
        missing = [n for n in shapes if n not in other]
        extra = [n for n in other if n not in shapes]
        if missing or extra:
            name = (missing or extra)[0]
            where = "the model has parameter" if missing else f"the {what} has parameter"
            raise InitlabError(f"{what}: {where} {name!r}, which the other has not; allowed: the same architecture "
                               "at another width (the same parameter names)")
        for n, shape in shapes.items():
            if len(other[n]) != len(shape):
                raise InitlabError(f"{what}: parameter {n!r} has shape {other[n]} there and {shape} in the model; "
                                   "allowed: the same number of dimensions")
    out: BaseDims = {}
    for name, shape in shapes.items():
        ref = delta[name] if delta is not None else shape
        out[name] = tuple(base[name][a] if (base[name][a] != shape[a] or base[name][a] != ref[a]) else None
                          for a in range(len(shape)))
    return out


def _check(structure: Structure, shapes: dict[str, tuple], dims: BaseDims) -> None:
    for name, info in structure.params.items():
        shape, base = shapes[name], dims[name]
        for axis, b in enumerate(base):
            if b is not None and not _may_scale(info, axis):
                side = "fan_in" if axis == info.in_axis else "fan_out"
                raise InitlabError(f"base: {info.role} {name!r} has a {side} that changes with width (base {b}, "
                                   f"here {shape[axis]}); allowed: base shapes in which only widths differ "
                                   f"(the {side} of {'an input' if side == 'fan_in' else 'the readout'} is fixed)")
            if b is not None and (b <= 0):
                raise fail("base", b, f"a positive size for axis {axis} of {name!r}")
        if info.kind == "weight" and info.in_axis is not None and info.role not in ("readout", "other") \
                and base[info.in_axis] is not None and base[info.out_axis] is None:
            raise InitlabError(f"base: {name!r} ({info.role}) maps a width ({base[info.in_axis]} → "
                               f"{shape[info.in_axis]}) to a fixed size {shape[info.out_axis]}, which only the readout "
                               f"does; allowed: roles={{{info.layer!r}: 'readout'}}, or base shapes in which its "
                               "fan_out scales too")
    if not any(b is not None for base in dims.values() for b in base):
        raise InitlabError("base: no dimension of the model scales with width (every size equals the base's); "
                           "allowed: a base of another width, or delta= a model that differs from the base in "
                           "every width")


def resolve_base(model: nn.Module, structure: Structure, base, delta=None) -> BaseDims:
    """The base size (or None) of every axis of every parameter in ``structure``; see the module docstring."""
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    shapes = {n: shapes[n] for n in structure.params}
    if base is None:
        raise fail("base", None, "a base width (int), {model width: base width}, a base model, or base shapes "
                   "{parameter name: shape}")
    if delta is not None and (isinstance(base, int) or (isinstance(base, Mapping) and
                                                           all(isinstance(k, int) for k in base))):
        raise fail("delta", type(delta).__name__, "None when base gives widths (delta goes with a base model)")
    if isinstance(base, bool):
        raise fail("base", base, "a base width (int), {model width: base width}, a base model, or base shapes")
    if isinstance(base, int):
        widths = _model_widths(structure, shapes)
        if len(widths) != 1:
            raise fail("base", base, f"a base model, base shapes or {{width: base width}} for a model with several "
                       f"widths (found {sorted(widths)})" if widths else "a model with a width")
        if base < 1:
            raise fail("base", base, "a width >= 1")
        dims = _from_widths(structure, shapes, {next(iter(widths)): base})
    elif isinstance(base, Mapping) and base and all(isinstance(k, int) and not isinstance(k, bool) for k in base):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in base.values()):
            raise fail("base", dict(base), "{model width: base width} with integer widths >= 1")
        dims = _from_widths(structure, shapes, dict(base))
    else:
        dims = _from_model(structure, shapes, _shapes_of(base, "base"),
                           None if delta is None else _shapes_of(delta, "delta"))
    _check(structure, shapes, dims)
    return dims
