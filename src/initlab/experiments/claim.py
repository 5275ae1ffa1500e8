"""The machinery every claim preset is built on: settings + result rows + checks over paired seeds
→ a verdict, with the source's own figure beside ours.

A :class:`Preset` is

* ``budgets`` — the settings of the ``"full"`` and ``"quick"`` budgets (each with ``seeds``, the
  number of paired seeds);
* ``measure(settings, seeds) -> rows`` — trains and probes what the claim is about and returns a
  tidy table: one dict per (seed, scheme, layer, epoch …). Every number a check or a figure uses
  is a column of these rows; nothing else is kept;
* ``judge(rows, settings) -> [Check]`` — the criteria (:mod:`initlab.experiments.verdict`),
  computed from the rows alone, so a test can feed it synthetic rows;
* ``compare(rows, settings) -> [{"quantity", "source", "ours"}]`` — the source's own figures
  next to ours;
* ``figures`` — :class:`FigureSpec` descriptions of the plots, drawn from the rows by the report
  (which only renders);
* ``title``, ``claim``, ``explanation`` (for a learner) and ``source`` (:class:`Source`).

Seeds are paired: seed ``s`` gives every compared scheme the same data order and the same
initialization seed, so per-seed differences cancel what the schemes share.

A new claim is one module in :mod:`initlab.experiments.claims` that defines ``PRESET``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Preset", "Source", "FigureSpec", "KerasSetting", "keras_of",
           "digits", "train_all", "build", "probe_layers", "chance", "seeds_of",
           "rows_where", "per_seed", "group_by", "geomean", "per_layer_factor", "config", "dataset"]


@dataclass(frozen=True)
class Source:
    """Where a claim comes from and what the source itself shows: ``citation`` (authors, year, title,
    figure or table), ``shows`` (the source's result in words), ``numbers`` (quantity → the source's
    own value, as text)."""

    citation: str
    shows: str
    numbers: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"citation": self.citation, "shows": self.shows, "numbers": dict(self.numbers)}


@dataclass(frozen=True)
class FigureSpec:
    """A plot of some result rows, described as data (the report draws it).

    ``kind``: ``"lines"`` (``y`` against ``x``, one line per ``series``, one panel per ``panels``,
    mean over seeds with a ±sd band), ``"profile"`` (per-layer activation and gradient std,
    measured and predicted, one line per ``series``), ``"heatmap"`` (``y`` over ``x`` × ``series``),
    ``"histograms"`` (activation histograms per ``panels``), ``"bars"`` (``y`` per ``x``, one bar per
    ``series``, ±sd over seeds). ``where`` selects rows by column values. ``hline`` draws a
    reference value (a row column name, e.g. ``"chance"``, or a number)."""

    name: str
    kind: str
    title: str
    caption: str
    where: Mapping[str, Any] = field(default_factory=dict)
    x: str = ""
    y: str = ""
    series: str = ""
    panels: str = ""
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False
    hline: Any = None
    percent: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KerasSetting:
    """One network a claim trains or probes, as Keras 3 rebuilds it: an MLP of ``depth`` hidden
    Dense layers of ``width`` units with ``activation`` on ``inputs`` features and a softmax head over
    ``classes``, every kernel drawn from ``scheme`` (``scheme_params`` as in a
    :class:`~initlab.experiments.trainer.TrainConfig`) and every bias as the claim's models start them
    (:func:`~initlab.experiments.models.bias_scheme`). ``label`` names it as the claim's rows do.
    ``lsuv``: the keyword arguments (``tol``, ``max_iter``) of the data-dependent LSUV step run on the
    first ``batch`` training inputs after the model is built (:func:`initlab.keras.lsuv`), or None.

    >>> print(KerasSetting("He", "relu", 1, 32, "he_uniform").lines())
    import keras
    <BLANKLINE>
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation='relu', kernel_initializer='he_uniform', bias_initializer='zeros'),
        keras.layers.Dense(10, activation='softmax', kernel_initializer='he_uniform', bias_initializer='zeros'),
    ])
    """

    label: str
    activation: str
    depth: int
    width: int
    scheme: str
    scheme_params: Mapping[str, Any] = field(default_factory=dict)
    inputs: int = 64
    classes: int = 10
    lsuv: Mapping[str, Any] | None = None
    batch: int = 512

    @property
    def bias(self) -> str:
        from .models import bias_scheme

        return bias_scheme(self.scheme)

    def lines(self) -> str:
        """The Keras lines that build this network (:func:`initlab.adapters.snippets.keras_lines`, the
        head initialized like the hidden layers), then the LSUV call if any."""
        from ..adapters.snippets import keras_lines

        code = keras_lines(self.activation, self.depth, self.width, self.scheme, dict(self.scheme_params) or None,
                           inputs=self.inputs, classes=self.classes, bias=self.bias, head=True)
        if self.lsuv is not None:
            kw = ", ".join(f"{k}={v!r}" for k, v in self.lsuv.items())
            imports, body = code.split("\n\n", 1)
            if "import initlab.keras" not in imports:
                imports += "\nimport initlab.keras"
            code = (f"{imports}\n\n{body}\n# x_train: the training inputs, one row of {self.inputs} features each\n"
                    f"initlab.keras.lsuv(model, x_train[:{self.batch}], {kw})")
        return code


def keras_of(preset: "Preset", settings: Mapping[str, Any]) -> tuple[list[KerasSetting], str]:
    """The Keras settings a preset states for the budget ``settings`` it ran, and its note on what they
    do not cover ("" if none); ``([], "")`` for a preset that states none."""
    found = list(preset.keras(settings)) if preset.keras is not None else []
    note = preset.keras_note(settings) if callable(preset.keras_note) else preset.keras_note
    return found, note


@dataclass(frozen=True)
class Preset:
    """A claim, how it is measured and judged, and its two budgets (see the module docstring)."""

    name: str
    title: str
    claim: str
    explanation: str
    source: Source
    budgets: Mapping[str, Mapping[str, Any]]
    measure: Callable[[dict, list[int]], list[dict]]
    judge: Callable[[list[dict], dict], list]
    compare: Callable[[list[dict], dict], list[dict]]
    figures: Sequence[FigureSpec] = ()
    summarize: Callable[[list[dict], dict], list[dict]] | None = None
    order: int = 100
    cost: float = 1.0
    """CPU seconds of the full budget as measured on a 2-core machine: a scheduling hint only (the
    suite starts the longest presets first, so that parallel workers finish together)."""
    keras: Callable[[Mapping[str, Any]], Sequence[KerasSetting]] | None = None
    """The networks the claim compares, as :class:`KerasSetting` s computed from a budget's settings
    (the report shows their Keras lines); None: the claim states no Keras setting."""
    keras_note: str | Callable[[Mapping[str, Any]], str] = ""
    """What the Keras settings leave out (a model they do not write, a data-dependent step) and what
    a Keras user does instead; text or a function of the budget's settings."""

    @property
    def doc(self) -> str:
        return self.measure.__doc__ or ""


# --------------------------------------------------------------------------- shared pieces

def seeds_of(settings: Mapping[str, Any], seed: int) -> list[int]:
    """The paired seeds of a run: ``seed``, ``seed + 1``, … (``settings["seeds"]`` of them)."""
    return [seed + k for k in range(int(settings["seeds"]))]


@functools.lru_cache(maxsize=4)
def _load(name: str, n_train, n_test):
    from .datasets import load

    return load(name, seed=0, n_train=n_train, n_test=n_test)


def digits(n_train: int | None = None, n_test: int | None = None):
    """scikit-learn's digits, split with seed 0 (the split every trainer uses), cached."""
    return _load("digits", n_train, n_test)


def dataset(name: str):
    return _load(name, None, None)


def config(**kw):
    """A validated :class:`~initlab.experiments.trainer.TrainConfig` (digits unless ``dataset=``)."""
    from .trainer import TrainConfig

    kw.setdefault("dataset", "digits")
    return TrainConfig(**kw).validate()


def train_all(configs, data) -> list:
    """Train every config; configs sharing an architecture are trained stacked."""
    from .sweep import train_many

    return train_many(configs, data, max_group=128)


def build(cfg, data):
    """The model a config describes, initialized from its seed (as the trainers build it)."""
    from .models import build_model

    return build_model(cfg.model_spec(), data.input_shape, data.num_classes, seed=cfg.seed)


def probe_layers(model, data, *, batch: int = 512, theory: bool = True) -> list[dict]:
    """Probe ``model`` on the first ``batch`` training inputs: one row per hidden weight layer (the
    head excluded) with ``layer`` (1-based), the output of the activation that follows it
    (``act_std``, ``act_mean``, ``act_var``, ``frac_saturated``), ``distinct_units`` and ``units``,
    the back-propagated gradient ``grad_std`` (std of ∂L/∂pre-activation), and mean-field theory's
    predictions ``pred_act_std``, ``pred_grad_var`` and ``pred_grad_std`` (the predicted variance
    ratios anchored at the last hidden layer's measured gradient; NaN where theory has none)."""
    import initlab

    records = initlab.probe(model, data.x_train[:batch], data.y_train[:batch], theory=theory)
    layers: list[list] = []
    for row in records.rows:
        if row["role"] == "weight":
            layers.append([row, None])
        elif row["role"] == "activation" and layers and layers[-1][1] is None:
            layers[-1][1] = row
    out = []
    hidden = layers[:-1]
    anchor = hidden[-1][0] if hidden else None  # theory predicts gradient ratios: anchor at the last hidden layer
    for i, (w, act) in enumerate(hidden):
        a = act if act is not None else w
        pred_out = w.get("pred_out_var", math.nan) if act is not None else w.get("pred_preact_var", math.nan)
        out.append({"layer": i + 1, "act_std": float(a["std"]), "act_mean": float(a["mean"]),
                    "act_var": float(a["std"]) ** 2, "frac_saturated": _num(a.get("frac_saturated")),
                    "distinct_units": int(w["distinct_units"]), "units": int(w["units"]),
                    "grad_std": float(w["grad_std"]),
                    "pred_act_std": math.sqrt(pred_out) if _num(pred_out) >= 0 else math.nan,
                    "pred_grad_var": _num(w.get("pred_grad_var")),
                    "pred_grad_std": _anchored(_num(w.get("pred_grad_var")), anchor)})
    return out


def _anchored(pred_var: float, anchor: dict) -> float:
    ref = _num(anchor.get("pred_grad_var"))
    if not (ref > 0 and pred_var >= 0):
        return math.nan
    return math.sqrt(pred_var / ref) * float(anchor["grad_std"])


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def geomean(values) -> float:
    """The geometric mean of positive values (how per-seed ratios are averaged)."""
    values = list(values)
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def chance(data) -> float:
    """The accuracy of always answering the most frequent test class."""
    counts = data.y_test.bincount(minlength=data.num_classes).double()
    return float(counts.max() / counts.sum())


def rows_where(rows: Sequence[Mapping], **match) -> list[Mapping]:
    """The rows whose columns equal every given value."""
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def per_seed(rows: Sequence[Mapping], value: str | Callable[[list[Mapping]], float], **match) -> list[float]:
    """One number per seed (in seed order) from the rows that match: the column ``value`` of each
    seed's single row, or ``value(rows of that seed)``."""
    got = group_by(rows_where(rows, **match), "seed")
    out = []
    for seed in sorted(got):
        rs = got[seed]
        if callable(value):
            out.append(float(value(rs)))
        else:
            if len(rs) != 1:
                raise ValueError(f"per_seed({value!r}, {match}): seed {seed} has {len(rs)} rows, expected 1")
            out.append(float(rs[0][value]))
    return out


def group_by(rows: Sequence[Mapping], key: str) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def per_layer_factor(rows: Sequence[Mapping], column: str, *, toward_input: bool = False) -> float:
    """The geometric-mean change of ``column`` per layer over the given per-layer rows of one seed:
    (last/first)^(1/(L − 1)), or (first/last)^(1/(L − 1)) with ``toward_input``."""
    rs = sorted(rows, key=lambda r: r["layer"])
    first, last = float(rs[0][column]), float(rs[-1][column])
    if first <= 0 or last <= 0 or not (math.isfinite(first) and math.isfinite(last)):
        return math.nan
    ratio = first / last if toward_input else last / first
    return ratio ** (1.0 / (len(rs) - 1))
