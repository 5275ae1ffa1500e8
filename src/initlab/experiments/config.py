"""Sweep configurations: a grid over schemes × activations × depths × widths × seeds × data sets.

A :class:`SweepConfig` names, for each *axis* (``scheme``, ``activation``, ``depth``, ``width``,
``seed``, ``dataset``, ``lr``, ``optimizer``), the values to try, and for each *fixed* field
(``model``, ``epochs``, ``batch_size``, ``momentum``, ``bias``, ``grad_std_steps``) one value.
Every run of the sweep is one point of the Cartesian product of the axes, trained with the
fixed fields; a run is described by a :class:`~initlab.experiments.trainer.TrainConfig`.

Configurations come from Python (``SweepConfig(scheme=["he_normal", "glorot_normal"], ...)``), a
mapping (``SweepConfig.from_dict``), or a file (:func:`load_config`: TOML, JSON, or YAML when
PyYAML is installed). Each axis accepts one value or a list; plural spellings (``schemes``,
``depths``, ``seeds``, ``datasets`` …) are accepted too. A scheme is a registered name
(``"he_normal"``), a mapping ``{"name": "random_normal", "params": {"std": 0.01}}``, or the same
written inline: ``"random_normal(std=0.01)"``.

Everything is checked by :meth:`SweepConfig.validate` before anything runs; each error names the
field, what it got and what is allowed (with the nearest names for a misspelt scheme, activation
or data set).

Example (TOML)::

    scheme = ["he_normal", "lecun_normal"]
    activation = "relu"
    depth = [10, 30]
    width = 64
    seed = [0, 1]
    dataset = "digits"
    lr = 0.01
    epochs = 5
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InitlabError, check_bool, check_choice, check_int, check_number, check_positive, suggest

__all__ = ["AXES", "FIXED", "RunSpec", "SchemeSpec", "SweepConfig", "load_config", "parse_config_text",
           "parse_scheme", "split_top_level"]

#: Grid axes, in the order the Cartesian product is taken (the last one varies fastest).
AXES = ("dataset", "scheme", "activation", "depth", "width", "optimizer", "lr", "seed")
#: Fields shared by every run of a sweep.
FIXED = ("model", "epochs", "batch_size", "momentum", "bias", "grad_std_steps")

_PLURALS = {"schemes": "scheme", "activations": "activation", "depths": "depth", "widths": "width",
            "seeds": "seed", "datasets": "dataset", "lrs": "lr", "learning_rate": "lr",
            "learning_rates": "lr", "optimizers": "optimizer"}
OPTIMIZERS = ("sgd", "adam")


# --------------------------------------------------------------------------- schemes

@dataclass(frozen=True)
class SchemeSpec:
    """A scheme name with its parameters, e.g. ``random_normal`` with ``{"std": 0.01}``."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name`` or ``name(k=v, ...)``: the inline spelling, parsed back by :func:`parse_scheme`."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"

    def to_config(self) -> dict:
        return {"name": self.name, "params": dict(sorted(self.params.items()))}


_INLINE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_scheme(spec: Any, *, arg: str = "scheme") -> SchemeSpec:
    """A :class:`SchemeSpec` from a name, ``"name(k=v, ...)"``, or ``{"name":..., "params":{...}}``.

    Inline values are read as JSON (numbers, strings in double quotes, true/false/null); a bare
    word that is not JSON is taken as a string, so ``constant(value=0.5)`` and
    ``variance_scaling(mode=fan_avg)`` both work.
    """
    if isinstance(spec, SchemeSpec):
        return spec
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"name", "params"}
        if "name" not in spec or unknown:
            raise InitlabError(f"{arg}: got {dict(spec)!r}; allowed: a mapping with keys 'name' and optional 'params'")
        params = spec.get("params") or {}
        if not isinstance(params, Mapping):
            raise InitlabError(f"{arg}.params: got {params!r}; allowed: a mapping of parameter names to values")
        return SchemeSpec(str(spec["name"]), dict(params))
    if not isinstance(spec, str):
        raise InitlabError(f"{arg}: got {spec!r}; allowed: a scheme name, 'name(k=v, ...)' or "
                           "{'name': ..., 'params': {...}}")
    m = _INLINE.match(spec)
    if not m:
        raise InitlabError(f"{arg}: got {spec!r}; allowed: a scheme name or 'name(k=v, ...)'")
    name, inner = m.group(1), m.group(2)
    params: dict[str, Any] = {}
    if inner and inner.strip():
        for part in split_top_level(inner):
            key, eq, raw = part.partition("=")
            key, raw = key.strip(), raw.strip()
            if not eq or not key.isidentifier() or not raw:
                raise InitlabError(f"{arg}: got {spec!r}; allowed: parameters written as key=value, "
                                   f"e.g. 'random_normal(std=0.01)' (could not read {part.strip()!r})")
            try:
                params[key] = json.loads(raw)
            except json.JSONDecodeError:
                params[key] = raw.strip("'")
    return SchemeSpec(name, params)


def split_top_level(text: str) -> list[str]:
    """Split ``a=1, b=[1, 2], init=f(x=1, y=2)`` at the commas outside brackets and parentheses.

    >>> split_top_level("depth=3,init=random_normal(std=0.01, mean=0)")
    ['depth=3', 'init=random_normal(std=0.01, mean=0)']
    """
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


# --------------------------------------------------------------------------- runs

@dataclass(frozen=True)
class RunSpec:
    """One point of the grid: its id, its position in the sweep, and the TrainConfig fields."""

    run_id: str
    index: int
    params: Mapping[str, Any]

    def train_config(self):
        from .trainer import TrainConfig

        return TrainConfig.from_dict(dict(self.params))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _run_id(params: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(_canonical(params).encode()).hexdigest()[:8]
    lr = f"{params['lr']:g}".replace("+", "")
    readable = (f"{params['dataset']}-{params['scheme']}-{params['activation']}-d{params['depth']}"
                f"-w{params['width']}-{params['optimizer']}-lr{lr}-s{params['seed']}")
    readable = re.sub(r"[^A-Za-z0-9_.\-]", "_", readable)
    return f"{readable}-{digest}"


# --------------------------------------------------------------------------- the sweep

def _as_list(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _dedupe(values: Iterable[Any]) -> list:
    seen, out = set(), []
    for v in values:
        k = _canonical(v.to_config() if isinstance(v, SchemeSpec) else v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


@dataclass(frozen=True)
class SweepConfig:
    """A grid of training runs (see the module docstring).

    Axes hold tuples; ``None`` for an axis or a fixed field means the
    :class:`~initlab.experiments.trainer.TrainConfig` default. :meth:`resolve` fills those in and
    checks everything; :meth:`runs` expands the grid.
    """

    scheme: tuple | None = None
    activation: tuple | None = None
    depth: tuple | None = None
    width: tuple | None = None
    seed: tuple | None = None
    dataset: tuple | None = None
    lr: tuple | None = None
    optimizer: tuple | None = None
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    momentum: float | None = None
    bias: bool | None = None
    grad_std_steps: tuple | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> "SweepConfig":
        """Build from a mapping (a parsed config file); unknown keys are errors with suggestions.

        A top-level ``[sweep]`` table is read as the whole config.
        """
        if not isinstance(data, Mapping):
            raise InitlabError(f"{source}: got {type(data).__name__}; allowed: a mapping of fields to values")
        if set(data) == {"sweep"} and isinstance(data["sweep"], Mapping):
            data = data["sweep"]
        allowed = list(AXES) + list(FIXED)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = _PLURALS.get(str(key), str(key))
            if name not in allowed:
                raise InitlabError(f"{source}: got unknown field {key!r}; allowed: {', '.join(allowed)}"
                                   f"{suggest(str(key), allowed + list(_PLURALS))}")
            if name in kwargs:
                raise InitlabError(f"{source}: got field {name!r} twice (as {key!r} and another spelling); allowed: "
                                   "each field once")
            if name in AXES:
                value = tuple(_as_list(value))
            elif isinstance(value, (list, tuple, Mapping)) and name != "grad_std_steps":
                raise InitlabError(f"{name}: got {value!r}; allowed: one value (only "
                                   f"{', '.join(AXES)} can take several)")
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path) -> "SweepConfig":
        """Read a TOML, JSON or YAML file (see :func:`load_config`)."""
        return cls.from_dict(load_config(path), source=str(path))

    # ---------------------------------------------------------------- checking
    def resolve(self) -> "SweepConfig":
        """A copy with defaults filled in and every value checked and normalized.

        Raises :class:`~initlab.errors.InitlabError` naming the first bad field.
        """
        from .trainer import TrainConfig

        defaults = {f.name: _field_default(f) for f in dataclasses.fields(TrainConfig)}
        out: dict[str, Any] = {}
        for name in AXES:
            values = getattr(self, name)
            if values is None:
                values = (defaults[name],)
            values = _as_list(values)
            if not values:
                raise InitlabError(f"{name}: got an empty list; allowed: one value or more")
            out[name] = tuple(_dedupe(_check_axis(name, v) for v in values))
        for name in FIXED:
            value = getattr(self, name)
            out[name] = _check_fixed(name, defaults[name] if value is None else value)
        return SweepConfig(**out)

    def validate(self) -> "SweepConfig":
        """Resolve, then build and validate every run's TrainConfig; returns the resolved config."""
        resolved = self.resolve()
        for spec in resolved.runs():
            spec.train_config().validate()
        return resolved

    # ---------------------------------------------------------------- expansion
    def runs(self) -> list[RunSpec]:
        """The grid's runs, in a fixed order (``seed`` fastest), each with a stable id.

        The config is resolved first (:meth:`resolve`), so defaults are filled in and values checked.
        """
        resolved = self.resolve()
        specs = []
        for index, combo in enumerate(itertools.product(*(getattr(resolved, a) for a in AXES))):
            point = dict(zip(AXES, combo))
            scheme: SchemeSpec = point.pop("scheme")
            params = {"scheme": scheme.name, "scheme_params": dict(sorted(scheme.params.items())), **point}
            params.update({name: getattr(resolved, name) for name in FIXED})
            specs.append(RunSpec(_run_id(params), index, params))
        return specs

    def digest(self) -> str:
        """A short hash of the resolved config: the same grid always gives the same digest."""
        return hashlib.sha256(_canonical(self.resolve().to_dict()).encode()).hexdigest()[:10]

    @property
    def size(self) -> int:
        return math.prod(len(_as_list(getattr(self, a))) for a in AXES)

    def to_dict(self) -> dict:
        """A JSON-ready mapping; ``SweepConfig.from_dict(c.to_dict())`` gives ``c`` back."""
        out: dict[str, Any] = {}
        for name in AXES:
            values = getattr(self, name)
            if values is None:
                continue
            out[name] = [v.to_config() if isinstance(v, SchemeSpec) else v for v in values]
        for name in FIXED:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _check_axis(name: str, value: Any) -> Any:
    if name == "scheme":
        return _check_scheme(value)
    if name == "activation":
        return _check_activation(value)
    if name == "dataset":
        from .datasets import DATASETS

        return check_choice("dataset", value, list(DATASETS))
    if name == "optimizer":
        return check_choice("optimizer", value, list(OPTIMIZERS))
    if name in ("depth", "width"):
        return check_int(name, value, minimum=1)
    if name == "seed":
        return check_int("seed", value, minimum=0)
    if name == "lr":
        return check_positive("lr", value)
    raise AssertionError(name)


def _check_fixed(name: str, value: Any) -> Any:
    if name in ("epochs", "batch_size"):
        return check_int(name, value, minimum=1)
    if name == "momentum":
        return check_number("momentum", value, minimum=0.0, maximum=1.0, open_max=True)
    if name == "model":
        from .models import MODEL_KINDS

        return check_choice("model", value, list(MODEL_KINDS))
    if name == "bias":
        return check_bool("bias", value)
    if name == "grad_std_steps":
        steps = _as_list(value)
        return tuple(check_int("grad_std_steps", s, minimum=0) for s in steps)
    raise AssertionError(name)


def _check_scheme(value: Any, *, arg: str = "scheme") -> SchemeSpec:
    import initlab

    from ..schemes.registry import canonical_name

    spec = parse_scheme(value, arg=arg)
    if spec.name.lower() == "auto" and not spec.params:
        return SchemeSpec("auto")
    try:
        # aliases and case are normalized, so 'kaiming_normal' and 'He_Normal' name the 'he_normal' runs
        spec = SchemeSpec(canonical_name(spec.name), dict(spec.params))
        initlab.get(spec.to_config() if spec.params else spec.name)
    except InitlabError as exc:
        msg = str(exc)
        if arg != "scheme" and msg.startswith("scheme:"):
            msg = arg + msg[len("scheme"):]
        elif not msg.startswith(f"{arg}:"):
            msg = f"{arg} {spec.label!r}: {msg}"
        raise InitlabError(msg) from None
    except TypeError as exc:
        raise InitlabError(f"{arg}: got {spec.label!r}; allowed: the scheme's own parameters ({exc})") from None
    return spec


def _check_activation(value: Any) -> str:
    from .models import ACTIVATIONS

    return check_choice("activation", value, list(ACTIVATIONS))


# --------------------------------------------------------------------------- files

def parse_config_text(text: str, fmt: str, *, source: str = "<config>") -> dict:
    """Parse config text as ``"toml"``, ``"json"`` or ``"yaml"``.

    A syntax error becomes an :class:`InitlabError` that reads
    ``<source>: line L, column C: <what the parser said>``.
    """
    fmt = check_choice("format", fmt, ["toml", "json", "yaml"])
    if fmt == "toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col, msg = _toml_position(str(exc), text)
            raise InitlabError(f"{source}: got a syntax error at line {line}, column {col} ({msg}); allowed: TOML") from None
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InitlabError(f"{source}: got a syntax error at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
                               "allowed: JSON") from None
        return data
    try:
        import yaml
    except ImportError:
        raise InitlabError(f"{source}: got a YAML config, which needs PyYAML (pip install pyyaml); "
                           "allowed without it: TOML (.toml) or JSON (.json)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InitlabError(f"{source}: got a syntax error {'at ' + where.rstrip(': ') + ' ' if where else ''}"
                           f"({exc.problem or exc}); allowed: YAML") from None
    except yaml.YAMLError as exc:
        raise InitlabError(f"{source}: got a YAML error ({exc}); allowed: YAML") from None
    return {} if data is None else data


def _toml_position(message: str, text: str) -> tuple[int, int, str]:
    """tomllib puts the position in its message: ``... (at line 3, column 7)`` or ``(at end of document)``."""
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if m:
        return int(m.group(1)), int(m.group(2)), message[:m.start()]
    m = re.search(r"\s*\(at end of document\)\s*$", message)
    lines = text.splitlines() or [""]
    if m:
        return len(lines), len(lines[-1]) + 1, message[:m.start()] + " at end of document"
    return 1, 1, message


def load_config(path: str | Path) -> dict:
    """Read a sweep config file as a mapping: ``.toml``, ``.json``, ``.yaml``/``.yml``."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix)
    if fmt is None:
        raise InitlabError(f"config: got a file ending {suffix or '(no suffix)'!r}; allowed: .toml, .json, .yaml, .yml")
    from .files import read_text

    text = read_text(path, "config")  # one line for a missing file, a folder, no permission, non-UTF-8 bytes
    data = parse_config_text(text, fmt, source=str(path))
    if not isinstance(data, Mapping):
        raise InitlabError(f"{path}: got a {type(data).__name__} at the top level; allowed: a table/mapping of fields")
    return dict(data)

