"""The playground's messages: what a page may send, checked field by field, and the errors it gets back.

A page sends JSON text objects with a ``type``:

================== ===========================================================================
``runs``           ``{"runs": [config, ...]}``: 1 to :data:`MAX_RUNS` configs
                   (:class:`~initlab.experiments.live.LiveConfig` fields) trained side by side
``play``/``pause`` start or stop training every run
``step``           ``{"n": 1..1000}``: that many steps of every run, then one frame each
``reset``          rebuild every run from its seed: the same weights again
``speed``          ``{"steps_per_second": null | 1..100000}``: a cap on each run's rate (null: none)
``phase``          ``{"run": i, "sigma_w2": x, "sigma_b2": y}``: run i at that point of the phase diagram
``code``           ``{"run": i}``: the script that reproduces run i
``ping``           answered by ``pong``
================== ===========================================================================

Nothing in a message names a file, a module or code: every field is a number, a name from a
fixed list or a registry scheme. A bad message gets ``{"type": "error", "field", "got",
"allowed", "message"}`` and the connection stays open.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InitlabError, check_choice, check_int, check_number, check_type, fail

__all__ = ["MAX_RUNS", "MAX_MESSAGE", "MAX_STEPS", "MESSAGE_TYPES", "Command", "parse", "error_message"]

MAX_RUNS = 4
"""Runs per page."""

MAX_MESSAGE = 16 * 1024
"""Bytes per message a page may send (a config is well under 1 KiB)."""

MAX_STEPS = 1000
"""Steps one ``step`` message may ask for."""

MESSAGE_TYPES = ("runs", "play", "pause", "step", "reset", "speed", "phase", "code", "ping")

_FIELDS = {"runs": {"runs"}, "play": set(), "pause": set(), "step": {"n"}, "reset": set(),
           "speed": {"steps_per_second"}, "phase": {"run", "sigma_w2", "sigma_b2"}, "code": {"run"}, "ping": set()}


@dataclass
class Command:
    """A checked message: its ``type`` and the values it carries."""

    type: str
    configs: list = field(default_factory=list)
    n: int = 1
    run: int = 0
    steps_per_second: float | None = None
    sigma_w2: float = 0.0
    sigma_b2: float = 0.0


def parse(text: Any, *, runs_open: int = 1) -> Command:
    """Check one message (its text as received) and return the :class:`Command`, or raise
    :class:`~initlab.errors.InitlabError` naming the field. ``runs_open`` bounds the ``run`` index."""
    from ..experiments.live import LiveConfig

    if not isinstance(text, str):
        raise fail("message", f"{type(text).__name__} frame", "a JSON text message")
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE:
        raise fail("message", f"{size} bytes", f"at most {MAX_MESSAGE} bytes")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise fail("message", _short(text), f"a JSON object ({getattr(exc, 'msg', 'too deeply nested')})") from None
    check_type("message", data, dict, "a JSON object with a 'type'")
    kind = check_choice("type", data.get("type"), MESSAGE_TYPES)
    extra = sorted(set(data) - _FIELDS[kind] - {"type"})
    if extra:
        raise fail(extra[0], data[extra[0]], f"the fields of a {kind!r} message: "
                   f"{', '.join(sorted(_FIELDS[kind])) or 'none besides type'}")
    cmd = Command(kind)
    if kind == "runs":
        runs = data.get("runs")
        if not isinstance(runs, list) or not 1 <= len(runs) <= MAX_RUNS:
            got = f"a list of {len(runs)}" if isinstance(runs, list) else runs
            raise fail("runs", got, f"a list of 1 to {MAX_RUNS} configs")
        cmd.configs = [LiveConfig.from_dict(c, prefix=f"runs[{i}].") for i, c in enumerate(runs)]
    elif kind == "step":
        cmd.n = check_int("n", data.get("n", 1), minimum=1, maximum=MAX_STEPS)
    elif kind == "speed":
        v = data.get("steps_per_second")
        cmd.steps_per_second = None if v is None else check_number("steps_per_second", v, minimum=1, maximum=1e5)
    elif kind in ("phase", "code"):
        if runs_open < 1:
            raise fail("run", data.get("run", 0), "a run's index once a 'runs' message has started one (none yet)")
        cmd.run = check_int("run", data.get("run", 0), minimum=0, maximum=runs_open - 1)
        if kind == "phase":
            cmd.sigma_w2 = check_number("sigma_w2", data.get("sigma_w2"), minimum=0.0, maximum=1e4, open_min=True)
            cmd.sigma_b2 = check_number("sigma_b2", data.get("sigma_b2"), minimum=0.0, maximum=1e2)
    return cmd


_FORM = re.compile(r"^(?P<field>[^:]+): got (?P<got>.*?); allowed: (?P<allowed>.*)$", re.S)


def error_message(exc: BaseException | str, **extra) -> dict:
    """The ``error`` message for an :class:`~initlab.errors.InitlabError` (its ``<field>: got
    <value>; allowed: <what>`` split into fields; other text goes to ``message`` whole)."""
    text = str(exc)
    m = _FORM.match(text)
    out = {"type": "error", "message": text, "field": None, "got": None, "allowed": None}
    if m:
        out.update(field=m["field"].strip(), got=m["got"], allowed=m["allowed"])
    out.update(extra)
    return out


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def encode(obj: dict) -> str:
    """JSON text for a message (non-finite numbers are an error: summaries carry None instead)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


__all__ += ["encode", "InitlabError"]
