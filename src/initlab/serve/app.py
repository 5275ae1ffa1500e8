"""The playground's ASGI app (Starlette): the page's static files and one websocket per page.

Each page (:class:`Page`) holds up to :data:`~initlab.serve.protocol.MAX_RUNS` runs, each trained by a
:class:`~initlab.serve.worker.RunWorker` thread. The event loop only parses messages, forwards
commands and sends what the workers produced: the latest frame of every run at most
``max_rate`` times a second in one ``frames`` message (frames a slow page has not taken yet are
replaced by newer ones, so nothing piles up), other messages in order. When the page closes, or
the server shuts down, its workers stop and their threads are joined.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from pathlib import Path

from ..errors import InitlabError
from .protocol import MAX_MESSAGE, MAX_RUNS, MAX_STEPS, encode, error_message, parse
from .worker import ParameterBudget, RunWorker

__all__ = ["create_app", "STATIC", "Page", "ServerState"]

STATIC = Path(__file__).parent / "static"
MAX_QUEUE = 512
"""Messages (other than frames, which replace each other) queued for a page that does not read."""


class ServerState:
    """What the server shares between pages: the page cap, the parameter budget, the live pages."""

    def __init__(self, *, max_pages: int = 16, max_parameters: int = 60_000_000, max_rate: float = 20.0,
                 stats_share: float = 0.15, threads: int = 1, session_options: dict | None = None,
                 message_rate: float = 50.0):
        self.max_pages = max_pages
        self.budget = ParameterBudget(max_parameters)
        self.max_rate = max_rate
        self.stats_share = stats_share
        self.threads = threads
        self.session_options = session_options or {}
        self.message_rate = message_rate
        self.pages: set[Page] = set()
        self.lock = threading.Lock()
        self._hello: str | None = None

    def hello(self) -> str:
        """The first message of every page: limits, choices, schemes and claims (computed once)."""
        if self._hello is None:
            from ..experiments import live
            from ..experiments.trainer import OPTIMIZERS
            import initlab

            self._hello = encode({
                "type": "hello", "version": initlab.__version__, "limits": {k: list(v) for k, v in live.LIMITS.items()},
                "max_runs": MAX_RUNS, "max_message": MAX_MESSAGE, "max_steps": MAX_STEPS, "max_rate": self.max_rate,
                "datasets": list(live.LIVE_DATASETS), "plane": list(live.PLAYGROUND),
                "activations": list(live.LIVE_ACTIVATIONS), "optimizers": list(OPTIMIZERS),
                "schemes": live.scheme_catalogue(), "claims": live.claims(),
                "default": live.LiveConfig().to_dict()})
        return self._hello

    def workers(self) -> list[RunWorker]:
        with self.lock:
            return [w for p in self.pages for w in p.workers]


class Page:
    """One connected page: its runs and the queue of what goes back to it."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop):
        self.state = state
        self.loop = loop
        self.workers: list[RunWorker] = []
        self.configs: list = []
        self.playing = False
        self.speed: float | None = None
        self.fifo: collections.deque[str] = collections.deque()
        self.frames: dict[int, str] = {}
        self.wake = asyncio.Event()
        self.closed = False
        self.tokens = state.message_rate * 2
        self.last_token = time.monotonic()
        self.sent = 0
        self.dropped = 0

    # ---------------------------------------------------------------- from worker threads
    def emit(self, item: tuple) -> None:
        if not self.closed:
            self.loop.call_soon_threadsafe(self._deliver, item)

    def _deliver(self, item: tuple) -> None:
        kind, index, text = item
        if kind in ("frame", "frame0"):
            self.frames[index] = text
            self.wake.set()
        else:
            self.send(text)

    def send(self, message: dict | str) -> None:
        if len(self.fifo) >= MAX_QUEUE:  # the page reads nothing: drop rather than grow
            self.dropped += 1
            return
        self.fifo.append(message if isinstance(message, str) else encode(message))
        self.wake.set()

    # ---------------------------------------------------------------- the sender task
    async def sender(self, ws) -> None:
        last = 0.0
        period = 1.0 / self.state.max_rate
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.fifo:
                await ws.send_text(self.fifo.popleft())
            if self.frames:
                wait = last + period - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    while self.fifo:
                        await ws.send_text(self.fifo.popleft())
                batch, self.frames = self.frames, {}
                await ws.send_text('{"type":"frames","frames":[' + ",".join(batch[k] for k in sorted(batch)) + "]}")
                last = time.monotonic()
                self.sent += 1

    # ---------------------------------------------------------------- commands from the page
    def _rate_ok(self) -> bool:
        now = time.monotonic()
        rate = self.state.message_rate
        self.tokens = min(2 * rate, self.tokens + (now - self.last_token) * rate)
        self.last_token = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def handle(self, text) -> None:
        """Act on one message from the page; whatever goes wrong is answered, never raised."""
        try:
            self._handle(text)
        except Exception as exc:  # noqa: BLE001 - the page stays up; the message says what failed
            self.send(error_message(f"message: failed with {type(exc).__name__}: {exc}"))

    def _handle(self, text) -> None:
        if not self._rate_ok():
            self.send(error_message(InitlabError(
                f"message rate: got more than {self.state.message_rate:g} a second; allowed: at most "
                f"{self.state.message_rate:g} a second (this message was dropped)")))
            return
        try:
            cmd = parse(text, runs_open=len(self.workers))
        except InitlabError as exc:
            self.send(error_message(exc))
            return
        if cmd.type == "ping":
            self.send({"type": "pong"})
        elif cmd.type == "runs":
            self._set_runs(cmd.configs)
        elif cmd.type in ("play", "pause"):
            self.playing = cmd.type == "play"
            for w in self.workers:
                w.play(self.playing)
            self.send({"type": "state", "playing": self.playing})
        elif cmd.type == "step":
            self.playing = False
            for w in self.workers:
                w.play(False)
                w.step(cmd.n)
            self.send({"type": "state", "playing": False})
        elif cmd.type == "reset":
            for w in self.workers:
                w.reset()
        elif cmd.type == "speed":
            self.speed = cmd.steps_per_second
            for w in self.workers:
                w.speed(self.speed)
        elif cmd.type == "phase":
            try:
                config = self.configs[cmd.run].with_phase_point(cmd.sigma_w2, cmd.sigma_b2)
            except InitlabError as exc:
                self.send(error_message(exc, run=cmd.run))
                return
            self.configs[cmd.run] = config
            self.workers[cmd.run].configure(config)
        elif cmd.type == "code":
            if not self.configs:
                self.send(error_message(InitlabError("run: got a page with no runs; allowed: send 'runs' first")))
                return
            self.send({"type": "code", "run": cmd.run, "script": self.configs[cmd.run].to_script()})

    def _set_runs(self, configs: list) -> None:
        # runs past the new count stop; the others get the new config where it changed
        for w in self.workers[len(configs):]:
            w.stop()
        kept = self.workers[:len(configs)]
        opts = dict(stats_share=self.state.stats_share, threads=self.state.threads,
                    session_options=self.state.session_options)
        while len(kept) < len(configs):
            w = RunWorker(len(kept), self.emit, budget=self.state.budget, **opts)
            w.play(self.playing)
            w.speed(self.speed)
            kept.append(w)
        with self.state.lock:
            stopped = self.workers[len(configs):]
            self.workers = kept
        old = self.configs
        for i, (w, c) in enumerate(zip(kept, configs)):
            if i >= len(old) or old[i] != c:
                w.configure(c)
        self.configs = list(configs)
        self.send({"type": "runs", "count": len(configs)})
        if stopped:
            threading.Thread(target=_join_all, args=(stopped,), daemon=True).start()

    def close(self) -> list[RunWorker]:
        """Stop every worker; return them (to be joined)."""
        self.closed = True
        with self.state.lock:
            workers, self.workers = self.workers, []
        for w in workers:
            w.stop()
        return workers


def _join_all(workers: list[RunWorker], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    return all(w.join(max(0.0, end - time.monotonic())) for w in workers)


def create_app(state: ServerState | None = None):
    """The Starlette app: ``/`` the page, ``/static/…`` its files, ``/ws`` the websocket.
    ``state`` carries the limits (a default :class:`ServerState` when None)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocketDisconnect

    state = state or ServerState()

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def health(request):
        return JSONResponse({"pages": len(state.pages), "runs": len(state.workers()),
                             "parameters": state.budget.used})

    async def websocket(ws):
        await ws.accept()
        with state.lock:
            full = len(state.pages) >= state.max_pages
        if full:
            await ws.send_text(encode(error_message(InitlabError(
                f"pages: got {state.max_pages + 1} open pages; allowed: at most {state.max_pages} at once "
                "(close another page and reload)"))))
            await ws.close(code=1013)
            return
        page = Page(state, asyncio.get_running_loop())
        with state.lock:
            state.pages.add(page)
        sender = asyncio.create_task(page.sender(ws))
        try:
            page.send(state.hello())
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                page.handle(text if text is not None else message.get("bytes"))
                if sender.done():
                    break
        except WebSocketDisconnect:
            pass
        finally:
            workers = page.close()
            sender.cancel()
            with state.lock:
                state.pages.discard(page)
            await asyncio.to_thread(_join_all, workers)

    @asynccontextmanager
    async def lifespan(app):
        yield
        for page in list(state.pages):
            workers = page.close()
            await asyncio.to_thread(_join_all, workers)

    app = Starlette(routes=[Route("/", index), Route("/health", health), WebSocketRoute("/ws", websocket),
                            Mount("/static", StaticFiles(directory=STATIC), name="static")],
                    lifespan=lifespan)
    app.state.playground = state
    return app
