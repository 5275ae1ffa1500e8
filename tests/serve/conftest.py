"""Shared set-up of the playground tests: a server on a free loopback port, websocket clients, and a
check that no run thread outlives its page."""

import json
import time

import pytest


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("uvicorn", reason="the playground needs the serve extra (pip install 'initlab[serve]')")
    from initlab.serve import Server

    srv = Server(port=0, max_pages=4, max_parameters=3_000_000).start()
    yield srv
    srv.stop()


class Client:
    """A page driven from Python: send JSON, read until a message of some type arrives."""

    def __init__(self, server):
        from websockets.sync.client import connect

        self._cm = connect(f"ws://127.0.0.1:{server.port}/ws", max_size=2 ** 24)
        self.ws = self._cm.__enter__()
        self.seen: list[dict] = []
        self.hello = self.next("hello")

    def send(self, obj) -> None:
        self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    def next(self, kind: str, timeout: float = 20.0, where=None) -> dict:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} message within {timeout} s; last: {[m['type'] for m in self.seen[-8:]]}")
            try:
                m = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            self.seen.append(m)
            if m["type"] == kind and (where is None or where(m)):
                return m

    def frame(self, run: int = 0, timeout: float = 20.0, where=None) -> dict:
        """The next frame of ``run`` (optionally one that satisfies ``where``)."""
        end = time.monotonic() + timeout
        while True:
            m = self.next("frames", max(0.1, end - time.monotonic()))
            for f in m["frames"]:
                if f["run"] == run and (where is None or where(f)):
                    return f

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


@pytest.fixture
def client(server):
    c = Client(server)
    yield c
    c.close()


def wait_no_runs(timeout: float = 15.0) -> list[str]:
    from initlab.serve.loadtest import run_threads

    end = time.monotonic() + timeout
    while run_threads() and time.monotonic() < end:
        time.sleep(0.05)
    return run_threads()


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    """Tests compute their references with one torch thread, as the playground's workers train: small
    networks on a busy machine run far slower on two (each parallel region waits for a descheduled
    thread). A test parametrized by ``threads`` sets them itself."""
    if "threads" in getattr(getattr(request.node, "callspec", None), "params", {}):
        yield
        return
    from initlab._threads import torch_threads

    with torch_threads(1):
        yield
