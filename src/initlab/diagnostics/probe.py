"""``probe``: one forward and one backward pass through a model, recorded layer by layer.

Module hooks see every module; a ``TorchFunctionMode`` sees the activations a ``forward`` calls as
functions (``F.relu(x)``, ``torch.tanh(x)``, ``x.sigmoid()`` …), which no module hook can. Each
observation becomes one flat row (Wickham's tidy data: one row per layer call, one column per
quantity), in the order the forward pass produced them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..errors import InitlabError, check_bool, check_number, check_type, fail
from ._sites import (FUNCTIONAL, NORM_FUNCTIONS, ActSpec, check_layer_input, feature_dim, is_normalization,
                     is_weight_layer, layer_fans, module_activation, unit_weights, weight_of)
from ._rows import RowsByLayer
from ._state import ModelState
from ._stats import (NAN, UnitKeys, distinct_units, forward_stats, grad_stats, mean_square, saturated_fraction,
                     sum_square)

__all__ = ["probe", "LayerRecords", "COLUMNS", "new_row", "pair_rows", "compute_loss"]

COLUMNS = (
    "index", "layer", "call", "kind", "role", "activation", "paired",
    "units", "distinct_units",
    "mean", "std", "min", "max", "ms", "input_ms", "frac_saturated", "frac_dead", "nonfinite",
    "grad_std", "grad_nonfinite", "grad_var_rel", "input_grad_std",
    "weight_norm", "weight_grad_norm", "grad_weight_ratio",
    "fan_in", "fan_out", "weight_std", "bias_rms", "after_norm",
    "pred_preact_var", "pred_out_var", "pred_grad_var", "branch",
)
"""The columns of a probe's table, in order. See :func:`probe` for what each one means."""


@dataclass(frozen=True)
class LayerRecords(RowsByLayer):
    """What :func:`probe` measured: one row (a dict over :data:`COLUMNS`) per observation, plus the
    loss it back-propagated. Index it by position or by layer name (the first call of that layer)."""

    rows: tuple[dict, ...]
    loss: float
    loss_name: str
    batch_size: int

    def where(self, role: str) -> list[dict]:
        """The rows of one role: ``input``, ``weight``, ``param``, ``activation`` or ``stream``."""
        return [r for r in self.rows if r["role"] == role]

    def pairs(self) -> list[tuple[dict, dict | None]]:
        """Each weight layer's row with the row of the activation that follows it (None if none), in
        forward order: the pairing the probe recorded in the ``paired`` column."""
        return [(r, self.rows[int(r["paired"])] if _is_index(r["paired"]) else None)
                for r in self.rows if r["role"] == "weight"]

    def block_output(self, weight_row: dict) -> dict:
        """The row whose output leaves a weight layer's block: its activation's, else its own."""
        p = weight_row["paired"]
        return self.rows[int(p)] if _is_index(p) else weight_row

    def blocks(self) -> list[dict]:
        """One summary per weight layer, in forward order: ``layer``, ``kind``, ``activation``,
        ``units``, ``distinct_units``; ``out_std`` — the std of the block's output (the activation
        that follows the layer, else the layer's own output) and ``pred_out_std``, the mean-field
        prediction of the same quantity; ``grad_std`` (of the layer's output), ``frac_saturated``,
        ``frac_dead`` (of its activation) and ``grad_weight_ratio``."""
        out = []
        for w, act in self.pairs():
            block = act if act is not None else w
            pred = w["pred_out_var"] if act is not None else w["pred_preact_var"]
            out.append({"layer": w["layer"], "kind": w["kind"], "activation": w["activation"], "units": w["units"],
                        "distinct_units": w["distinct_units"], "out_std": block["std"],
                        "pred_out_std": math.sqrt(pred) if pred == pred and pred >= 0 else NAN,
                        "grad_std": w["grad_std"], "frac_saturated": block["frac_saturated"],
                        "frac_dead": block["frac_dead"], "grad_weight_ratio": w["grad_weight_ratio"]})
        return out

    def to_frame(self):
        """The rows as a ``pandas.DataFrame`` with the columns of :data:`COLUMNS`."""
        import pandas as pd

        return pd.DataFrame([dict(r) for r in self.rows], columns=list(COLUMNS))

    def to_dict(self) -> dict:
        """A JSON-ready dict: non-finite numbers become ``None``."""
        return {"loss": _jsonable(self.loss), "loss_name": self.loss_name, "batch_size": self.batch_size,
                "columns": list(COLUMNS), "rows": [{k: _jsonable(r[k]) for k in COLUMNS} for r in self.rows]}

    def to_json(self, indent: int | None = None) -> str:
        """The records as JSON text (see :meth:`to_dict`); :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "LayerRecords":
        data = json.loads(text)
        rows = tuple({k: (NAN if r.get(k) is None and k in _NUMERIC else r.get(k)) for k in COLUMNS}
                     for r in data["rows"])
        loss = NAN if data["loss"] is None else data["loss"]
        return cls(rows, loss, data["loss_name"], data["batch_size"])


_NUMERIC = set(COLUMNS) - {"layer", "kind", "role", "activation", "branch"}


def _jsonable(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _is_index(v) -> bool:
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


# -- the row and the pairing, shared with the Keras probe (initlab.adapters.keras_diag) -------------------
def new_row(index: int, layer: str, call: int, kind: str, role: str, activation: str | None) -> dict:
    """A row of :data:`COLUMNS` for one observation: NaN where nothing is measured yet, no non-finite
    values counted and no normalization seen."""
    row = {c: NAN for c in COLUMNS}
    row.update(index=index, layer=layer, call=call, kind=kind, role=role, activation=activation,
               nonfinite=0, grad_nonfinite=0, after_norm=0, branch=None)
    return row


def pair_rows(rows: list[dict]) -> None:
    """Pair each weight row with the first activation row recorded after it, before the next weight
    row: the weight row's ``activation`` becomes that activation's name (``linear`` if none) and the
    two rows' ``paired`` columns hold each other's ``index``. The one place the pairing is made."""
    last_weight = None
    for row in rows:
        if row["role"] == "weight":
            row["activation"] = "linear"
            last_weight = row
        elif row["role"] == "activation" and last_weight is not None:
            last_weight["activation"] = row["activation"]
            last_weight["paired"], row["paired"] = row["index"], last_weight["index"]
            last_weight = None
# -- end of the shared part ------------------------------------------------------------------------------


def _first_tensor(out) -> Tensor | None:
    if isinstance(out, Tensor):
        return out
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


class _quiet:
    """Our own tensor operations inside hooks: no ``__torch_function__`` dispatch (the functional-
    activation mode would otherwise see, and pay for, every one of them) and one CPU thread (they
    are short, memory-bound reductions; a parallel region costs more than it saves, most of all
    on a loaded machine)."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        self.off = torch._C.DisableTorchFunction()
        self.off.__enter__()
        if self.threads != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.threads != 1:
            torch.set_num_threads(self.threads)
        self.off.__exit__(*exc)


class _Recorder:
    """The hooks of one probe and the rows they write."""

    def __init__(self, input_shape: tuple, symmetry_rtol: float):
        self.rows: list[dict] = []
        self.modules: list[nn.Module | None] = []
        self.module_handles: list = []
        self.tensor_handles: list = []
        self.stack: list[str] = []
        self.pending: list[tuple] = []  # per weight layer entered: (input mean square, input's gradient source)
        self.input_links: list[tuple[dict, object]] = []
        self.act_depth = 0
        self.calls: dict[str, int] = {}
        self.sites: dict[str, int] = {}
        self.fd = -1
        self.keys = UnitKeys()
        self.input_shape = input_shape
        self.rtol = symmetry_rtol
        self.norm_seen = False  # a normalization ran since the last weight layer's output
        self.last: tuple | None = None  # (tensor, its version, its mean square, its row): the latest output seen

    # -- rows -------------------------------------------------------------------------------
    def _row(self, layer: str, kind: str, role: str, activation: str | None, module: nn.Module | None) -> dict:
        call = self.calls.get(layer, 0)
        self.calls[layer] = call + 1
        row = new_row(len(self.rows), layer, call, kind, role, activation)
        self.rows.append(row)
        self.modules.append(module)
        return row

    def input_row(self, x: Tensor) -> None:
        row = self._row("<input>", type(x).__name__, "input", None, None)
        if x.is_floating_point():
            with _quiet():
                row.update(forward_stats(x))
            self.last = (x, x._version, row["ms"], row)
        row["units"] = x.shape[1] if x.dim() >= 2 else x.numel()
        self.fd = 1 if x.dim() >= 3 else -1

    def _grad_hook(self, row: dict, g: Tensor) -> None:
        with _quiet():
            row["grad_std"], row["grad_nonfinite"] = grad_stats(g)

    def _slot_hook(self, slot: list, g: Tensor) -> None:
        with _quiet():
            slot[0] = grad_stats(g)[0]

    def _observe(self, row: dict, y: Tensor, act: ActSpec | None, fd: int) -> None:
        """Forward statistics of an output, read now: a later in-place op may overwrite it."""
        row.update(forward_stats(y, fd if act is not None and act.can_die else None))
        row["units"] = y.shape[fd] if y.dim() >= 2 else y.numel()
        if act is not None:
            row["frac_saturated"] = saturated_fraction(y, act)
        self.last = (y, y._version, row["ms"], row)
        if y.requires_grad:
            self.tensor_handles.append(y.register_hook(partial(self._grad_hook, row)))

    # -- module hooks -----------------------------------------------------------------------
    def attach(self, model: nn.Module) -> None:
        for name, m in model.named_modules():
            act = module_activation(m)
            has_params = any(p is not None for p in m._parameters.values())
            norm = is_normalization(m)
            self.module_handles.append(m.register_forward_pre_hook(partial(self._pre, name, act, has_params)))
            self.module_handles.append(m.register_forward_hook(partial(self._post, name, act, has_params, norm)))

    def detach_modules(self) -> None:
        for h in self.module_handles:
            h.remove()
        self.module_handles.clear()

    def remove_all(self) -> None:
        self.detach_modules()
        for h in self.tensor_handles:
            h.remove()
        self.tensor_handles.clear()
        self.last = None

    def _input(self, x) -> tuple[float, object]:
        """A weight layer's input: its mean square, and where its gradient will be read (the row of
        the output it is, or a slot filled by a hook on it)."""
        if not isinstance(x, Tensor) or not x.is_floating_point():
            return NAN, None
        if self.last is not None and self.last[0] is x and self.last[1] == x._version:
            return self.last[2], self.last[3]  # the output recorded just before, unchanged since
        source = None
        if x.requires_grad:
            source = [NAN]
            self.tensor_handles.append(x.register_hook(partial(self._slot_hook, source)))
        return mean_square(x), source

    def _pre(self, name: str, act: ActSpec | None, has_params: bool, m: nn.Module, args: tuple) -> None:
        with _quiet():
            self.stack.append(name)
            if act is not None:
                self.act_depth += 1  # nn.ReLU calls F.relu: record the module, not the call inside it
            elif has_params:
                check_layer_input(name, m, args, self.input_shape)
                if is_weight_layer(m):
                    self.pending.append((*self._input(args[0] if args else None), self.norm_seen))

    def _post(self, name: str, act: ActSpec | None, has_params: bool, norm: bool, m: nn.Module, args: tuple,
              out) -> None:
        with _quiet():
            self.stack.pop()
            if norm:
                self.norm_seen = True
            if act is not None:
                self.act_depth -= 1
            elif not has_params:
                return
            y = _first_tensor(out)
            weight = act is None and is_weight_layer(m)
            role = "activation" if act is not None else ("weight" if weight else "param")
            row = self._row(name, type(m).__name__, role, act.name if act is not None else None, m)
            if weight:
                row["input_ms"], source, normed = self.pending.pop()
                row["after_norm"] = int(normed)
                self.input_links.append((row, source))
                self.norm_seen = False
                w = weight_of(m)
                w_sq = sum_square(w)
                row["weight_norm"] = math.sqrt(w_sq)
                row["weight_std"] = math.sqrt(w_sq / w.numel()) if w.numel() else NAN
                row["fan_in"], row["fan_out"] = layer_fans(m)
            if y is None or not y.is_floating_point():
                return
            if act is None:
                self.fd = feature_dim(m)
                fd = self.fd
            else:
                fd = self.fd if y.dim() >= 3 else -1
            self._observe(row, y, act, fd)
            if act is None:
                uw = unit_weights(m)
                if uw is None:
                    return
                rows, bias = uw
                b_sq = sum_square(bias) if bias is not None else 0.0
                if weight:
                    row["bias_rms"] = math.sqrt(b_sq / bias.numel()) if bias is not None and bias.numel() else 0.0
                if y.dim() >= 1 and rows.shape[0] == row["units"] and row["nonfinite"] == 0:
                    w_sq = (row["weight_norm"] ** 2 if weight else sum_square(rows)) + b_sq
                    row["distinct_units"] = distinct_units(rows, bias, y, fd, self.keys, w_sq,
                                                           row["ms"] * y.numel(), self.rtol)

    # -- functional activations -------------------------------------------------------------
    def functional(self, func, act: ActSpec, y: Tensor) -> None:
        with _quiet():
            owner = self.stack[-1] if self.stack else ""
            base = f"{owner}.{act.name}" if owner else act.name
            n = self.sites.get(base, 0)
            self.sites[base] = n + 1
            row = self._row(f"{base}#{n}", getattr(func, "__name__", act.name), "activation", act.name, None)
            if y.is_floating_point():
                self._observe(row, y, act, self.fd if y.dim() >= 3 else -1)

    # -- after the backward pass ------------------------------------------------------------
    def finish(self, grads: dict) -> None:
        pair_rows(self.rows)
        for row, m in zip(self.rows, self.modules):
            if m is None or row["role"] == "input":
                continue
            w = weight_of(m)
            ps = [w] if w is not None else [p for p in m._parameters.values() if p is not None]
            if not math.isfinite(row["weight_norm"]):
                row["weight_norm"] = math.sqrt(sum(sum_square(p) for p in ps))
            wn = row["weight_norm"]
            gs = [grads.get(p) for p in ps]
            if all(g is not None for g in gs):
                gn = math.sqrt(sum(sum_square(g) for g in gs))
                row["weight_grad_norm"] = gn
                row["grad_weight_ratio"] = gn / wn if wn > 0 else (math.inf if gn > 0 else NAN)
        for row, source in self.input_links:
            if isinstance(source, dict):
                row["input_grad_std"] = source["grad_std"]
            elif isinstance(source, list):
                row["input_grad_std"] = source[0]
        weights = [r for r in self.rows if r["role"] == "weight" and math.isfinite(r["grad_std"])]
        ref = weights[-1]["grad_std"] if weights else NAN
        if ref > 0:
            for row in self.rows:
                row["grad_var_rel"] = (row["grad_std"] / ref) ** 2


class _FunctionalMode(TorchFunctionMode):
    """Sees every torch function a ``forward`` calls: records the catalogue's functional and method
    activations, and notes functional normalizations."""

    def __init__(self, rec: _Recorder):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rec = self.rec
        spec = FUNCTIONAL.get(func)
        if spec is not None:
            if rec.act_depth == 0 and isinstance(out, Tensor):
                rec.functional(func, spec(args, kwargs), out)
        elif func in NORM_FUNCTIONS:
            rec.norm_seen = True
        return out


# -- argument checks ----------------------------------------------------------------------------
def _check_model(model) -> None:
    check_type("model", model, nn.Module, "a torch.nn.Module")
    if next(model.parameters(), None) is None:
        raise InitlabError(f"model: got a {type(model).__name__} with no parameters; allowed: a module with at "
                           "least one parameter (a probe measures the layers that carry weights)")


def _check_inputs(inputs) -> tuple:
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if not args or not all(isinstance(a, Tensor) for a in args):
        raise InitlabError(f"inputs: got {type(inputs).__name__}; allowed: a tensor (the batch, batch dimension "
                           "first) or a tuple of tensors passed to forward as positional arguments")
    x = args[0]
    if x.dim() == 0:
        raise InitlabError("inputs: got a 0-dimensional tensor; allowed: a batch with the batch dimension first")
    if x.shape[0] == 0:
        raise InitlabError(f"inputs: got an empty batch of shape {tuple(x.shape)}; allowed: at least 1 sample")
    return args


def _check_targets(targets, batch: int) -> Tensor | None:
    if targets is None:
        return None
    if not isinstance(targets, Tensor):
        raise InitlabError(f"targets: got {type(targets).__name__}; allowed: None or a tensor")
    if targets.dim() == 0 or targets.shape[0] != batch:
        raise InitlabError(f"targets: got shape {tuple(targets.shape)}; allowed: a batch dimension of {batch}, "
                           "the same as the inputs")
    return targets.detach()


def compute_loss(out, targets: Tensor | None, loss_fn: Callable | None) -> tuple[Tensor, str]:
    """The loss :func:`probe` back-propagates, and its name (see :func:`probe`); the Keras probe uses it too."""
    if loss_fn is not None:
        loss = loss_fn(out) if targets is None else loss_fn(out, targets)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            got = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
            raise InitlabError(f"loss_fn: got {got} back from it; allowed: a callable returning a scalar tensor")
        return loss.reshape(()), getattr(loss_fn, "__name__", type(loss_fn).__name__)
    y = _first_tensor(out)
    if y is None or not y.is_floating_point():
        raise InitlabError(f"model output: got {type(out).__name__}; allowed: a floating tensor (or a tuple/dict "
                           "holding one) for the default loss, or pass loss_fn")
    if targets is None:
        return 0.5 * y.square().mean(), "half_mean_square"
    if not targets.is_floating_point():
        if y.dim() < 2 or tuple(targets.shape) != (y.shape[0], *y.shape[2:]):
            raise InitlabError(f"targets: got class indices of shape {tuple(targets.shape)} for an output of "
                               f"shape {tuple(y.shape)}; allowed: shape {(y.shape[0], *y.shape[2:])} "
                               "(class indices for the output's dimension 1), or pass loss_fn")
        lo, hi = int(targets.min()), int(targets.max())
        if lo < 0 or hi >= y.shape[1]:
            raise InitlabError(f"targets: got class indices from {lo} to {hi}; allowed: 0 to {y.shape[1] - 1} "
                               f"for an output with {y.shape[1]} classes")
        return F.cross_entropy(y, targets), "cross_entropy"
    if targets.shape != y.shape:
        raise InitlabError(f"targets: got float targets of shape {tuple(targets.shape)}; allowed: the output's "
                           f"shape {tuple(y.shape)}, or pass loss_fn")
    return 0.5 * (y - targets).square().mean(), "half_mse"


def _unique_params(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.is_floating_point() or p.is_complex()]


def _stream_rows(model: nn.Module, args: tuple, rows: list[dict]) -> None:
    """One ``stream`` row per residual merge (the residual stream after each branch is added; the
    ``layer`` is ``stream.<branch>``, ``call`` the block, ``after_norm`` 1 when the branch reads the stream
    through a normalization), and a ``stream.in`` row for the stream the first branch reads. Measured in
    one extra forward pass (no gradient) through the model's traced graph; nothing for a model without
    residual merges (or one torch.fx cannot trace)."""
    import torch.fx

    from ..model.residual import cached_structure, merges

    structure = cached_structure(model)
    found = merges(structure)
    if not found:
        return
    tags = {layer.name: layer.tags for layer in structure.layers}
    for row in rows:
        t = tags.get(row["layer"]) if row["role"] == "weight" else None
        if t and "branch_role" in t:
            row["branch"] = f"{t['branch_role']}/{t['block']}"
    wanted = {found[0]["fork"]: ("stream.in", found[0]["block"], found[0]["prenorm"])}
    for m in found:
        wanted[m["node"]] = (f"stream.{m['branch']}", m["block"], m["prenorm"])
    seen: dict = {}

    class _Record(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if n.name in wanted and isinstance(out, Tensor) and out.is_floating_point():
                with _quiet():
                    seen[n.name] = forward_stats(out)
            return out

    with torch.no_grad():
        _Record(structure.graph).run(*args)
    for name, (label, block, prenorm) in wanted.items():
        if name not in seen:
            continue
        row = new_row(len(rows), label, int(block), "residual", "stream", None)
        row.update(seen[name])
        row["after_norm"] = int(prenorm)
        rows.append(row)


def _add_predictions(model: nn.Module, rows: list[dict]) -> None:
    """Fill the ``pred_*`` columns from :func:`initlab.theory.predict_model` (mean-field theory of
    the chain of layers, Poole et al. 2016) where the model is a chain the theory supports, from
    the second moment of the network input; for a residual network from
    :func:`initlab.theory.predict_graph`, whose stream moments go to the ``stream`` rows'
    ``pred_out_var`` (the stream's predicted second moment)."""
    weights = [r for r in rows if r["role"] == "weight" and r["call"] == 0]
    m0 = rows[0]["ms"] if rows and rows[0]["role"] == "input" else NAN
    if not weights or not math.isfinite(m0):
        return
    streams = [r for r in rows if r["role"] == "stream"]
    if streams:
        from ..model.residual import cached_structure
        from ..theory.residual import predict_graph

        try:
            g = predict_graph(model, m0, cached_structure(model))
        except (InitlabError, NotImplementedError, TypeError, ValueError):
            return
        by_branch = {f"stream.{p['branch']}": p["pred_stream_ms"] for p in g.stream}
        if g.stream:
            by_branch["stream.in"] = g.stream[0]["pred_stream_in_ms"]
        for row in streams:
            if row["layer"] in by_branch:
                row["pred_out_var"] = float(by_branch[row["layer"]])
        preds = g.layers
    else:
        preds = None
    try:
        from ..theory import predict_model
    except ImportError:
        return
    try:
        preds = preds if preds is not None else predict_model(model, input_variance=m0)
    except (InitlabError, NotImplementedError, TypeError, ValueError):
        return
    by_name = {p["layer"]: p for p in preds}
    for row in weights:
        p = by_name.get(row["layer"])
        if p is not None:
            for key in ("pred_preact_var", "pred_out_var", "pred_grad_var"):
                row[key] = float(p[key])


def probe(model: nn.Module, inputs, targets: Tensor | None = None, loss_fn: Callable | None = None, *,
          symmetry_rtol: float = 1e-5, theory: bool = True) -> LayerRecords:
    """Run one forward and one backward pass and record, layer by layer, what the initialization
    does to the signal and its gradient.

    ``inputs``: the batch (batch dimension first), or a tuple of tensors for ``forward(*inputs)``.
    The model runs in its current train/eval mode. The loss, unless ``loss_fn`` is given
    (called as ``loss_fn(output)`` or ``loss_fn(output, targets)``):

    * class-index ``targets`` (an integer tensor) → cross-entropy of the output (logits on dim 1);
    * float ``targets`` of the output's shape → ``0.5·mean((output − targets)²)``;
    * no targets → ``0.5·mean(output²)``.

    The gradients come from ``torch.autograd.grad``, so no ``.grad`` is written. Rows, in forward
    order (:data:`COLUMNS`):

    * ``role``: ``input`` (the batch), ``weight`` (a layer whose ``weight`` has ≥ 2 dims: Linear,
      Conv, Embedding …), ``param`` (other modules with parameters: norms …), ``activation``
      (a module, or a functional call named ``<module>.<name>#<n>``) or ``stream`` (see below);
    * ``activation``: for an activation row its own name; for a weight row the first activation
      recorded after it before the next weight layer (``linear`` if none);
    * ``mean``, ``std``, ``min``, ``max``, ``ms`` (mean square) over every element of the output;
      ``input_ms``: mean square of a weight layer's input; ``nonfinite``: NaN/Inf count;
    * ``frac_saturated``: fraction of an activation's outputs on a flat end — tanh and softsign
      ``|y| > 0.99``; sigmoid ``y < 0.01`` or ``y > 0.99``; hardtanh at ``min_val``/``max_val``;
      relu6 ``y >= 6``; hardsigmoid ``y <= 0`` or ``y >= 1``; elu/celu ``y < −0.99·alpha``; selu
      ``y < −0.99·λα``; NaN for activations without a flat end (relu, gelu, silu …);
    * ``frac_dead``: fraction of relu/relu6 units that are 0 for the whole batch (and every
      position, for convolutions); ``units`` along the feature axis (1 for conv/norm outputs,
      else the last);
    * ``distinct_units``: units that are not duplicates of another (same incoming weights and
      same outputs within ``symmetry_rtol``, see :func:`~initlab.diagnostics._stats.distinct_units`);
    * ``grad_std``: std of the loss gradient with respect to the output; ``grad_var_rel``:
      its square relative to the last weight layer's;
    * ``weight_norm``, ``weight_grad_norm`` (of ``weight``, or of all the module's own parameters
      when it has no ``weight``) and their ratio ``grad_weight_ratio``;
    * ``paired``: for a weight row the index of the row of the activation that follows it, for that
      activation row the weight row's index (NaN otherwise) — the pairing, made once here and read
      by :meth:`LayerRecords.pairs`, :func:`~initlab.diagnose`, the doctor's table and the report;
    * ``branch``: for a weight layer of a residual branch, its place and block, ``"in/3"``, ``"out/3"``,
      ``"in+out/3"``, ``"mid/3"`` (None elsewhere);
    * weight rows only: ``input_grad_std`` (std of the loss gradient with respect to the layer's
      input), ``fan_in``, ``fan_out`` (as initialization counts them), ``weight_std`` (root mean
      square of the weight), ``bias_rms`` (of the bias; 0 without one) and ``after_norm`` (1 when a
      normalization — module or function — ran since the previous weight layer's output);
    * ``pred_preact_var``, ``pred_out_var``, ``pred_grad_var``: mean-field predictions for the
      weight layers of a supported chain or residual network (NaN otherwise), from the measured
      ``input_ms``;
    * ``stream`` rows (residual networks, after the others): the residual stream the first branch reads
      (``stream.in``) and after each branch is added (``stream.<branch>``, ``call`` = its block), with
      ``pred_out_var`` the stream's predicted second moment (:func:`initlab.theory.predict_graph`) and
      ``after_norm`` 1 when the branches read the stream through a normalization (pre-norm).

    ``symmetry_rtol`` is a number in [0, 1]; ``theory=False`` skips the predictions.

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))
    >>> rec = probe(net, torch.randn(16, 4))
    >>> [(w["layer"], a["layer"] if a else None, w["fan_in"], w["after_norm"]) for w, a in rec.pairs()]
    [('0', '2', 4, 0), ('3', None, 8, 1)]

    Nothing is lost: parameters, ``.grad``, ``requires_grad``, modes, hooks, buffers (BatchNorm
    running statistics) and torch's random state are as before, also when forward or backward
    raises. Frozen parameters are measured too (``requires_grad`` is set on during the probe).
    """
    from ..adapters import keras_model_adapter  # Keras models: probed by initlab.adapters.keras_diag
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.probe(model, inputs, targets, loss_fn, symmetry_rtol=symmetry_rtol, theory=theory)
    _check_model(model)
    args = _check_inputs(inputs)
    targets = _check_targets(targets, args[0].shape[0])
    if loss_fn is not None and not callable(loss_fn):
        raise fail("loss_fn", loss_fn, "None or a callable loss_fn(output) / loss_fn(output, targets)")
    symmetry_rtol = check_number("symmetry_rtol", symmetry_rtol, minimum=0.0, maximum=1.0)
    theory = check_bool("theory", theory)
    state = ModelState(model)
    rec = _Recorder(tuple(args[0].shape), symmetry_rtol)
    try:
        # gradients are needed even when the caller runs under no_grad or inference_mode
        with torch.inference_mode(False), torch.enable_grad():
            args = tuple(a.detach().clone() for a in args)  # in-place first layers must not write the caller's batch
            params = _unique_params(model)
            for p in params:
                p.requires_grad_(True)
            rec.input_row(args[0])
            rec.attach(model)
            with _FunctionalMode(rec):
                out = model(*args)
            rec.detach_modules()
            loss, loss_name = compute_loss(out, targets, loss_fn)
            grads: dict = {}
            if loss.requires_grad:
                got = torch.autograd.grad(loss, params, allow_unused=True)
                grads = {p: g for p, g in zip(params, got) if g is not None}
            loss_value = float(loss.detach().float().item())
            del out, loss
        with _quiet():
            rec.finish(grads)
        _stream_rows(model, args, rec.rows)
    finally:
        rec.remove_all()
        state.restore()
    if theory:
        _add_predictions(model, rec.rows)
    return LayerRecords(tuple(rec.rows), loss_value, loss_name, int(args[0].shape[0]))

