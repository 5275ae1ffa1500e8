"""One run of a page, trained in a thread of its own so that the server's event loop always answers.

A :class:`RunWorker` owns a :class:`~initlab.experiments.live.LiveSession`. Commands (a new config,
reset, steps, play, pause, speed, stop) are taken between training steps; while playing it trains
step after step and measures a frame (:meth:`LiveSession.summary`) when one is due: at most one every
``min_interval`` seconds, and no more often than keeps the measuring under ``stats_share`` of the
thread's time (a 30-layer net's summary costs tens of training steps; this keeps training at its
pace). Frames are encoded to JSON here, in the worker, and handed to ``emit``.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ..errors import InitlabError, fail
from .protocol import encode, error_message

__all__ = ["RunWorker", "ParameterBudget"]


class ParameterBudget:
    """Parameters held by all runs of the server together, so that pages cannot exhaust memory."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int, *, giving_back: int = 0) -> None:
        """Reserve ``n`` parameters while releasing ``giving_back``; raise when over the limit."""
        with self._lock:
            after = self.used - giving_back + n
            if after > self.limit:
                others = self.used - giving_back
                raise InitlabError(f"parameters: got {n} for this run with {others} held by the other runs; "
                                   f"allowed: at most {self.limit} in all (fewer layers or units, or close a page)")
            self.used = after

    def give(self, n: int) -> None:
        with self._lock:
            self.used = max(0, self.used - n)


def parameter_count(config, data) -> int:
    """Parameters of the run's MLP: (d₀+1)·w + (depth−1)·(w+1)·w + (w+1)·k for input size d₀,
    width w and k classes."""
    d0 = 1
    for s in data.input_shape:
        d0 *= s
    w, k = config.width, data.num_classes
    return (d0 + 1) * w + (config.depth - 1) * (w + 1) * w + (w + 1) * k


class RunWorker:
    """The thread that trains run ``index`` of a page; ``emit(text)`` receives every message for the
    page (encoded JSON), from this thread."""

    def __init__(self, index: int, emit: Callable[[str], None], *, budget: ParameterBudget,
                 stats_share: float = 0.15, min_interval: float = 0.05, threads: int = 1,
                 session_options: dict | None = None):
        self.index = index
        self.emit = emit
        self.budget = budget
        self.stats_share = stats_share
        self.min_interval = min_interval
        self.threads = threads
        self.session_options = dict(session_options or {})
        self.session = None
        self.config = None
        self.gen = 0
        self.held = 0
        self._cond = threading.Condition()
        self._pending_config = None
        self._reset = False
        self._steps = 0
        self._playing = False
        self._speed: float | None = None
        self._stop = False
        self._dirty = False
        self.frames_sent = 0
        self.thread = threading.Thread(target=self._main, name=f"initlab-run-{index}", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------------ commands (any thread)
    def _command(self, **changes) -> None:
        with self._cond:
            for k, v in changes.items():
                setattr(self, k, v)
            self._dirty = True
            self._cond.notify()

    def configure(self, config) -> None:
        self._command(_pending_config=config)

    def reset(self) -> None:
        self._command(_reset=True)

    def step(self, n: int) -> None:
        with self._cond:
            self._steps = min(self._steps + n, 100_000)
            self._dirty = True
            self._cond.notify()

    def play(self, playing: bool) -> None:
        self._command(_playing=bool(playing))

    def speed(self, steps_per_second: float | None) -> None:
        self._command(_speed=steps_per_second)

    def stop(self) -> None:
        self._command(_stop=True)

    def join(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        import torch

        torch.set_num_threads(self.threads)  # per thread: the other runs and the server keep theirs
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - a failed run reports and ends; the page stays up
            self._send(error_message(f"run {self.index}: {type(exc).__name__}: {exc}", run=self.index))
        finally:
            self.budget.give(self.held)
            self.held = 0
            self.session = None

    def _loop(self) -> None:
        next_frame = 0.0
        while True:
            with self._cond:
                while not (self._stop or self._pending_config is not None or self._reset or self._steps
                           or (self._playing and self._can_train())):
                    self._cond.wait()
                if self._stop:
                    return
                config, self._pending_config = self._pending_config, None
                reset, self._reset = self._reset, False
                steps, self._steps = self._steps, 0
                playing, speed = self._playing, self._speed
                self._dirty = False
            if config is not None or reset:
                if self._build(config if config is not None else self.config):
                    self._frame(first=True)
                    next_frame = time.perf_counter() + self.min_interval
            if steps and self.session is not None:
                self.session.train(steps)
                self._frame()
                next_frame = time.perf_counter() + self.min_interval
            if playing and self._can_train():
                next_frame = self._play(next_frame, speed)

    def _can_train(self) -> bool:
        return self.session is not None and not self.session.diverged

    def _play(self, next_frame: float, speed: float | None) -> float:
        """Train until a frame is due or a command arrives; measure and send the frame when due."""
        s = self.session
        start, start_steps = time.perf_counter(), s.steps
        while not self._dirty and not s.diverged:
            s.train(1)
            now = time.perf_counter()
            if speed is not None:
                ahead = (s.steps - start_steps) / speed - (now - start)
                if ahead > 0:
                    with self._cond:
                        self._cond.wait(min(ahead, 0.25))  # a command wakes it early
                    now = time.perf_counter()
            if now >= next_frame:
                break
        if s.diverged or time.perf_counter() >= next_frame:
            cost = self._frame()
            return time.perf_counter() + max(self.min_interval, cost / self.stats_share)
        return next_frame

    def _build(self, config) -> bool:
        """(Re)build the session for ``config``; on a bad config send the error and keep the old run."""
        from ..experiments.live import LiveSession, live_data

        try:
            data = live_data(config)
            n = parameter_count(config, data)
            self.budget.take(n, giving_back=self.held)
            try:
                session = LiveSession(config, **self.session_options)
            except BaseException:
                self.budget.take(self.held, giving_back=n)  # back to what this run held before
                raise
        except InitlabError as exc:
            self._send(error_message(self._name_field(exc, config), run=self.index, rejected=True))
            return False
        self.held = n
        self.session, self.config = session, config
        self.gen += 1
        self._send({"type": "run", "run": self.index, "gen": self.gen, "info": session.info()})
        return True

    def _name_field(self, exc: InitlabError, config) -> InitlabError:
        """The error with this run's field named: ``runs[i].<field>: got …; allowed: …``. An error
        raised while the weights are drawn (a scheme that does not fit a layer) names ``scheme``, or
        ``bias`` when a bias raised it."""
        text = str(exc)
        field = error_message(exc)["field"]
        prefix = f"runs[{self.index}]."
        if field == "parameters" or (field or "").startswith("runs["):
            return exc
        if field and field in config.to_dict():
            return InitlabError(prefix + text)
        which = "bias" if ".bias" in text.split(":", 1)[0] else "scheme"
        return fail(prefix + which, getattr(config, which),
                    f"a scheme that can initialize this network's {'biases' if which == 'bias' else 'weights'} "
                    f"({text})")

    def _frame(self, first: bool = False) -> float:
        """Measure and send a frame; return what measuring cost (s). ``first``: the first frame of a
        rebuilt run (``frame0``)."""
        t0 = time.perf_counter()
        summary = self.session.summary()
        summary.update(run=self.index, gen=self.gen)
        text = encode(summary)
        cost = time.perf_counter() - t0
        self.emit(("frame0" if first else "frame", self.index, text))
        self.frames_sent += 1
        return cost

    def _send(self, message: dict) -> None:
        self.emit(("message", self.index, encode(message)))
