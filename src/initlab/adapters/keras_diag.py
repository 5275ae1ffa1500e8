"""``probe`` and ``lsuv`` for Keras 3 models: the rows of :data:`initlab.diagnostics.COLUMNS`, so
``initlab.diagnose`` and the doctor read them as they read a torch model's.

One eager forward pass with recorders on each layer's ``call`` (its output) and on the
``activation`` a Dense/Conv layer applies inside itself (its input is the layer's pre-activation:
the *weight* row; its output an *activation* row named ``<layer>.<activation>``), so the rows have
the torch probe's order and meaning. With the torch backend, Keras layers are torch modules:
one backward pass through ``torch.autograd.grad`` then gives the gradient columns. With the JAX
backend the rows hold the forward statistics; the gradient columns are NaN. Keras layers are
channels-last: a layer's units are its output's last axis (``data_format="channels_first"``: axis 1).
The mean-field prediction columns (``pred_*``) are NaN: ``initlab.theory`` reads torch modules.

Nothing is lost: every variable of the model (weights, moving statistics, seed-generator states)
is restored bit for bit, the trainable flags and torch's ``requires_grad`` are as before, torch's
and Python's random states are restored, and the recorders are removed — also when a pass raises.
"""

from __future__ import annotations

import math
import random
from typing import Callable

import numpy as np

from ..diagnostics import LayerRecords
from ..diagnostics._sites import activation_spec
from ..diagnostics._stats import NAN, UnitKeys, distinct_units, forward_stats, grad_stats, mean_square, \
    saturated_fraction, sum_square
from ..diagnostics.lsuv import LSUVResult
from ..diagnostics.probe import compute_loss, new_row, pair_rows
from ..errors import InitlabError, check_int, check_positive, fail
from . import keras_model as km

__all__ = ["probe", "lsuv", "KerasState"]

_MISSING = object()


def _keras():
    import keras

    return keras


def _torch_backend() -> bool:
    return _keras().backend.backend() == "torch"


def _to_torch(x):
    """A torch tensor of ``x`` for the statistics (the same tensor on the torch backend)."""
    import torch

    if isinstance(x, torch.Tensor):
        return x
    return torch.from_numpy(np.asarray(_keras().ops.convert_to_numpy(x)))


class KerasState:
    """Everything a diagnostic could disturb in a Keras model, and ``restore()`` to put it back."""

    def __init__(self, model):
        keras = _keras()
        self.layers = [(layer, layer.trainable) for layer in km.leaf_layers(model)]
        self.variables = [(v, v.trainable, np.array(keras.ops.convert_to_numpy(v.value), copy=True))
                          for v in model.variables]
        self.python_rng = random.getstate()
        self.torch = None
        if _torch_backend():
            import torch

            self.torch = (torch.get_rng_state(), [(v.value, v.value.requires_grad, v.value.grad)
                                                  for v, _, _ in self.variables])

    def restore(self, *, params: bool = True, rng: bool = True) -> None:
        """Put back trainable flags, ``requires_grad`` and ``.grad``; the variables' values with
        ``params``; Python's and torch's random states with ``rng``."""
        for layer, trainable in self.layers:
            if layer.trainable != trainable:
                layer.trainable = trainable
        for v, trainable, saved in self.variables:
            if v.trainable != trainable:
                v.trainable = trainable
            if params:
                v.assign(saved)
        if rng:
            random.setstate(self.python_rng)
        if self.torch is not None:
            import torch

            torch_rng, params = self.torch
            if rng:
                torch.set_rng_state(torch_rng)
            for p, req, grad in params:
                if p.requires_grad != req:
                    p.requires_grad_(req)
                if p.grad is not grad:
                    p.grad = grad


class _Recorder:
    """Recorders on the layers' ``call`` and inner ``activation``; rows in call order."""

    def __init__(self, layers, symmetry_rtol: float):
        self.layers = layers
        self.rtol = symmetry_rtol
        self.rows: list[dict] = []
        self.tensors: list = []      # (row, column, tensor) whose loss gradient fills that column
        self.weights: list = []      # (row, [kernel variables]) for weight gradient norms
        self.saved: list = []
        self.keys = UnitKeys()
        self.calls: dict[str, int] = {}
        self.pending: dict[int, list] = {}   # layer id -> [pre-activation, activation output, name]
        self.norm_seen = False               # a normalization layer ran since the last weight layer
        self.last_output = None
        self.last_softmax = None

    # -- rows --------------------------------------------------------------------------------
    def _row(self, layer: str, kind: str, role: str, activation: str | None) -> dict:
        call = self.calls.get(layer, 0)
        self.calls[layer] = call + 1
        row = new_row(len(self.rows), layer, call, kind, role, activation)
        self.rows.append(row)
        return row

    def input_row(self, x) -> None:
        t = _to_torch(x)
        row = self._row("<input>", type(x).__name__, "input", None)
        if t.is_floating_point():
            row.update(forward_stats(t.detach()))
        row["units"] = t.shape[-1] if t.dim() >= 2 else t.numel()

    def _observe(self, row: dict, y, act_name: str | None, fd: int) -> None:
        t = _to_torch(y)
        if not t.is_floating_point():
            return
        spec = activation_spec(act_name) if act_name else None
        d = t.detach()
        row.update(forward_stats(d, fd if spec is not None and spec.can_die else None))
        row["units"] = d.shape[fd] if d.dim() >= 2 else d.numel()
        if spec is not None:
            row["frac_saturated"] = saturated_fraction(d, spec)
        if t.requires_grad:
            self.tensors.append((row, "grad_std", t))

    # -- wrappers ----------------------------------------------------------------------------
    def _wrap(self, layer, attr: str, fn) -> None:
        self.saved.append((layer, attr, vars(layer).get(attr, _MISSING)))
        object.__setattr__(layer, attr, fn)

    def install(self) -> None:
        for layer in self.layers:
            call = layer.call
            self._wrap(layer, "call", lambda *a, _l=layer, _c=call, **k: self._call(_l, _c, a, k))
            act = getattr(layer, "activation", None)
            if km.weights_of(layer) and not isinstance(layer, km._layers().RNN) and \
                    km._fn_activation(act, "") is not None:
                self._wrap(layer, "activation", lambda x, _l=layer, _f=act: self._activation(_l, _f, x))

    def remove(self) -> None:
        for layer, attr, old in reversed(self.saved):
            if old is _MISSING:
                vars(layer).pop(attr, None)
            else:
                object.__setattr__(layer, attr, old)
        self.saved.clear()

    def _activation(self, layer, fn, x):
        y = fn(x)
        self.pending.setdefault(id(layer), []).append((x, y, km._fn_activation(fn, "").name))
        return y

    def _call(self, layer, call, args, kwargs):
        x = args[0] if args else next(iter(kwargs.values()), None)
        y = call(*args, **kwargs)
        self._record(layer, x, y)
        return y

    def _record(self, layer, x, y) -> None:
        keras = _keras()
        kind = type(layer).__name__
        fd = 1 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1
        variables = km.weights_of(layer)
        if isinstance(layer, _NORMALIZATION()):
            self.norm_seen = True
        act = km._layer_activation(layer)
        if act is not None:
            name = act.name or "linear"
            row = self._row(layer.name, kind, "activation", name)
            self._observe(row, y, name, fd)
            self.last_output, self.last_softmax = y, (name == "softmax")
            return
        if not variables:
            return
        kernels = [v for v, role, _ in variables if role in ("kernel", "recurrent", "embedding")]
        pre = self.pending.pop(id(layer), [])
        if kernels and not isinstance(layer, km._layers().RNN):
            row = self._row(layer.name, kind, "weight", None)
            if x is not None and keras.ops.is_tensor(x) and _to_torch(x).is_floating_point():
                t = _to_torch(x)
                row["input_ms"] = mean_square(t.detach())
                if t.requires_grad:
                    self.tensors.append((row, "input_grad_std", t))
            self._weight_columns(row, variables, kernels)
            self.weights.append((row, kernels))
            out = pre[-1][0] if pre else y
            self._observe(row, out, None, fd)
            self._distinct(row, layer, out, fd)
            if pre:
                act_row = self._row(f"{layer.name}.{pre[-1][2]}", kind, "activation", pre[-1][2])
                self._observe(act_row, pre[-1][1], pre[-1][2], fd)
            self.last_output, self.last_softmax = y, bool(pre and pre[-1][2] == "softmax")
            return
        row = self._row(layer.name, kind, "param", None)
        row["weight_norm"] = math.sqrt(sum(sum_square(_to_torch(v.value).detach()) for v, _, _ in variables))
        self.weights.append((row, [v for v, _, _ in variables]))
        self._observe(row, y, None, fd)
        self.last_output, self.last_softmax = y, False

    def _weight_columns(self, row: dict, variables: list, kernels: list) -> None:
        """A weight row's own columns, as the torch probe fills them: the kernels' norm and root mean
        square, their fans as initialization counts them (one kernel only), the bias's root mean square
        and whether a normalization ran since the previous weight layer."""
        w_sq = sum(sum_square(_to_torch(v.value).detach()) for v in kernels)
        n = sum(math.prod(v.shape) for v in kernels)
        row["weight_norm"] = math.sqrt(w_sq)
        row["weight_std"] = math.sqrt(w_sq / n) if n else NAN
        if len(kernels) == 1:
            hints = next(dict(h) for v, _, h in variables if v is kernels[0])
            try:
                fans = km.variable_fans(tuple(int(d) for d in kernels[0].shape), **hints)
            except InitlabError:
                fans = None
            if fans is not None:
                row["fan_in"], row["fan_out"] = fans.fan_in, fans.fan_out
        biases = [v for v, role, _ in variables if role == "bias"]
        b_n = sum(math.prod(v.shape) for v in biases)
        row["bias_rms"] = math.sqrt(sum(sum_square(_to_torch(v.value).detach()) for v in biases) / b_n) if b_n else 0.0
        row["after_norm"] = int(self.norm_seen)
        self.norm_seen = False

    def _distinct(self, row: dict, layer, out, fd: int) -> None:
        """The symmetry count of a Dense/Conv layer (units = the kernel's last axis)."""
        roles = {role: v for v, role, _ in km.weights_of(layer)}
        k = roles.get("kernel")
        if k is None or km.weights_of(layer)[0][2].get("kind") in ("depthwise", "conv_transpose", "embedding"):
            return
        w = _to_torch(k.value).detach()
        units = w.shape[-1]
        y = _to_torch(out).detach()
        if row["nonfinite"] or not y.dim() or y.shape[fd] != units:
            return
        rows = w.reshape(-1, units).t()
        bias = roles.get("bias")
        b = _to_torch(bias.value).detach() if bias is not None else None
        w_sq = row["weight_norm"] ** 2 + (sum_square(b) if b is not None else 0.0)
        row["distinct_units"] = distinct_units(rows, b, y, fd, self.keys, w_sq, row["ms"] * y.numel(), self.rtol)

    # -- after the pass ----------------------------------------------------------------------
    def finish(self, grads: list, weight_grads: list) -> None:
        pair_rows(self.rows)
        for row, column, g in grads:
            std, nonfinite = grad_stats(g)
            row[column] = std
            if column == "grad_std":
                row["grad_nonfinite"] = nonfinite
        for row, gn in weight_grads:
            row["weight_grad_norm"] = gn
            wn = row["weight_norm"]
            row["grad_weight_ratio"] = gn / wn if wn > 0 else (math.inf if gn > 0 else NAN)
        weights = [r for r in self.rows if r["role"] == "weight" and math.isfinite(r["grad_std"])]
        ref = weights[-1]["grad_std"] if weights else NAN
        if ref > 0:
            for row in self.rows:
                row["grad_var_rel"] = (row["grad_std"] / ref) ** 2


def _NORMALIZATION() -> tuple:
    """Keras layers that normalize the signal's scale (the ``after_norm`` column)."""
    L = km._layers()
    return (L.BatchNormalization, L.LayerNormalization, L.GroupNormalization, L.UnitNormalization)


def _check(model, inputs):
    keras = _keras()
    km._check_model(model)
    x = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
    if not (keras.ops.is_tensor(x) or isinstance(x, np.ndarray) or type(x).__module__.startswith("torch")):
        raise fail("inputs", type(inputs).__name__, "a batch (NumPy array or backend tensor, batch axis first) or a "
                   "tuple of them")
    shape = tuple(x.shape)
    if not shape or shape[0] == 0:
        raise InitlabError(f"inputs: got a batch of shape {shape}; allowed: at least 1 sample, batch axis first")
    try:
        expected = model.inputs
    except (AttributeError, ValueError):  # a subclassed model has no symbolic inputs
        expected = None
    if expected:
        want = tuple(expected[0].shape)[1:]
        if len(want) != len(shape) - 1 or any(w is not None and w != s for w, s in zip(want, shape[1:])):
            raise InitlabError(f"inputs: got a batch of shape {shape}; allowed: (N, {', '.join(map(str, want))}), "
                               f"the shape {type(model).__name__} {model.name!r} takes")
    return inputs


def _as_backend(x):
    keras = _keras()
    if isinstance(x, (tuple, list)):
        return type(x)(_as_backend(v) for v in x)
    if type(x).__module__.startswith("torch") and keras.backend.backend() != "torch":
        x = x.detach().cpu().numpy()  # e.g. the doctor's batch, for a model on the JAX backend
    return keras.ops.convert_to_tensor(x)


def _loss(rec: _Recorder, out, targets, loss_fn):
    import torch
    import torch.nn.functional as F

    y = _to_torch(out)
    if targets is not None and not targets.is_floating_point():
        targets = targets.long()
    if loss_fn is None and targets is not None and rec.last_softmax and out is rec.last_output \
            and not targets.is_floating_point():
        return F.nll_loss(torch.log(y.clamp_min(1e-30)), targets), "cross_entropy (softmax output)"
    return compute_loss(y, targets, loss_fn)


def probe(model, inputs, targets=None, loss_fn: Callable | None = None, *, training: bool = False,
          symmetry_rtol: float = 1e-5, theory: bool = True) -> LayerRecords:
    """Run ``model`` on ``inputs`` once (``training`` as Keras's call argument) and record each
    layer (see the module docstring). ``targets``/``loss_fn`` as :func:`initlab.probe` (with the
    torch backend); class-index targets on a softmax output use the cross-entropy of the
    probabilities. ``theory`` is accepted for the same call as a torch model's and has no effect."""
    _check(model, inputs)
    inputs = _as_backend(inputs)
    on_torch = _torch_backend()
    if targets is not None:
        targets = _to_torch(_as_backend(targets))
    state = KerasState(model)
    rec = _Recorder(km.leaf_layers(model), symmetry_rtol)
    grads, weight_grads = [], []
    first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
    try:
        rec.install()
        if on_torch:
            import torch

            with torch.inference_mode(False), torch.enable_grad():
                params = [v.value for v in model.variables if v.value.is_floating_point()]
                for p in params:
                    p.requires_grad_(True)
                rec.input_row(first)
                out = model(inputs, training=training)
                rec.remove()
                loss, loss_name = _loss(rec, out, targets, loss_fn)
                tensors = [t for _, _, t in rec.tensors]
                kernel_values = [v.value for _, vs in rec.weights for v in vs]
                if loss.requires_grad:
                    got = torch.autograd.grad(loss, tensors + kernel_values, allow_unused=True)
                    grads = [(row, column, g) for (row, column, _), g in zip(rec.tensors, got) if g is not None]
                    gk = dict(zip(map(id, kernel_values), got[len(tensors):]))
                    for row, vs in rec.weights:
                        gs = [gk.get(id(v.value)) for v in vs]
                        if all(g is not None for g in gs):
                            weight_grads.append((row, math.sqrt(sum(sum_square(g) for g in gs))))
                loss_value = float(loss.detach().float().item())
        else:  # forward statistics; the loss from the output, without a backward pass
            rec.input_row(first)
            out = model(inputs, training=training)
            rec.remove()
            loss, loss_name = _loss(rec, out, targets, loss_fn)
            loss_value = float(loss.detach().float().item())
        rec.finish(grads, weight_grads)
    finally:
        rec.remove()
        state.restore()
        rec.tensors.clear()
    return LayerRecords(tuple(rec.rows), loss_value, loss_name, int(first.shape[0]))


def _pre_activation_var(model, layer, inputs) -> float:
    """Variance of ``layer``'s output before its own activation, on ``inputs`` (inference mode)."""
    rec = _Recorder([layer], 1e-5)
    rec.install()
    try:
        model(inputs, training=False)
    finally:
        rec.remove()
    weight_rows = [r for r in rec.rows if r["role"] == "weight"]
    return weight_rows[0]["std"] ** 2 if weight_rows else NAN


def lsuv(model, batch, tol: float = 0.1, max_iter: int = 10, seed: int | None = None) -> LSUVResult:
    """LSUV (Mishkin & Matas 2015) for a Keras model, as :func:`initlab.lsuv`: orthonormal kernels
    and zero biases for every Dense/Conv layer (initlab's ``orthogonal`` through :func:`initlab.initialize`,
    so the fans and layouts are the plan's), then, in call order, each kernel divided by √Var of the
    layer's pre-activation output until ``abs(Var − 1) < tol``. Only those kernels and biases change; on
    an error every variable is restored."""
    keras = _keras()
    _check(model, batch)
    batch = _as_backend(batch)
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    if int(first.shape[0]) < 2:
        raise InitlabError(f"batch: got {int(first.shape[0])} sample; allowed: at least 2 samples (LSUV estimates each "
                           "layer's output variance from the batch)")
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    if seed is not None:
        check_int("seed", seed, minimum=0)
    L = km._layers()
    targets = [layer for layer in km.leaf_layers(model) if isinstance(layer, (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D,
                                                                               L.Conv1DTranspose, L.Conv2DTranspose,
                                                                               L.Conv3DTranspose))]
    if not targets:
        raise InitlabError(f"model: got a {type(model).__name__} without Dense or Conv layers; allowed: a model with "
                           "at least one (LSUV rescales those layers)")
    state = KerasState(model)
    rows = []
    try:
        chosen = {id(layer) for layer in targets}
        rules = {}
        for layer in km.leaf_layers(model):
            for v, role, _ in km.weights_of(layer):
                rules[v.path] = ("orthogonal" if role == "kernel" else "zeros" if role == "bias" else "keep") \
                    if id(layer) in chosen else "keep"
        km.initialize(model, rules, seed=seed)
        order = _call_order(model, targets, batch)
        for index, layer in enumerate(order):
            kernel = layer.kernel
            var = _pre_activation_var(model, layer, batch)
            initial, scale, it = var, 1.0, 0
            while it < max_iter and math.isfinite(var) and var > 0 and abs(var - 1.0) >= tol:
                factor = 1.0 / math.sqrt(var)
                kernel.assign(keras.ops.multiply(kernel.value, factor))
                scale *= factor
                it += 1
                var = _pre_activation_var(model, layer, batch)
            rows.append({"index": index, "layer": layer.name, "kind": type(layer).__name__, "iterations": it,
                         "initial_var": initial, "final_var": var, "scale": scale,
                         "converged": bool(math.isfinite(var) and abs(var - 1.0) < tol)})
    except BaseException:
        state.restore()
        raise
    state.restore(params=False, rng=False)
    return LSUVResult(tuple(rows), tol, max_iter)


def _call_order(model, layers, batch) -> list:
    rec = _Recorder(layers, 1e-5)
    rec.install()
    try:
        model(batch, training=False)
    finally:
        rec.remove()
    by_name = {layer.name: layer for layer in layers}
    order = []
    for r in rec.rows:
        layer = by_name.get(r["layer"])
        if layer is not None and r["role"] == "weight" and layer not in order:
            order.append(layer)
    return order
