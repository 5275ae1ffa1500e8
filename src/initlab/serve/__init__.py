"""``initlab serve``: the playground — change the initialization of a network and watch, live in the
browser, what it does layer by layer while it trains.

:func:`create_app` is the ASGI app (Starlette); :class:`Server` runs it on uvicorn (in this thread
with :meth:`Server.run`, or in a background thread with :meth:`Server.start` / :meth:`Server.stop`).
Every number the page shows comes from :mod:`initlab.experiments.live`.
"""

from __future__ import annotations

import errno
import socket
import threading
import time

from ..errors import InitlabError, check_int, fail, require_extra

__all__ = ["create_app", "Server", "DEFAULT_PORT", "LOOPBACK"]

DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WS_MAX_SIZE = 1 << 20
"""Websocket frames above this are refused by the protocol layer (the connection closes, code 1009);
messages between :data:`~initlab.serve.protocol.MAX_MESSAGE` and this get an error and the page stays."""


def create_app(state=None):
    """The playground's ASGI app; see :mod:`initlab.serve.app`."""
    require_extra("starlette", "serve", feature="initlab serve")
    from .app import create_app as _create

    return _create(state)


class Server:
    """The playground on uvicorn at ``host:port`` (port 0: a free one, see :attr:`port` after start).

    ``max_pages``: pages connected at once; the other keyword arguments go to
    :class:`~initlab.serve.app.ServerState`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, max_pages: int = 16, **state_options):
        require_extra("uvicorn", "serve", feature="initlab serve")
        require_extra("websockets", "serve", feature="initlab serve")
        from .app import ServerState

        self.host = host
        self.port = check_int("port", port, minimum=0, maximum=65535)
        self.state = ServerState(max_pages=check_int("max_pages", max_pages, minimum=1, maximum=1024),
                                 **state_options)
        self._server = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def bind(self) -> socket.socket:
        """Bind the listening socket now (once); a taken port is a one-line error."""
        if self._socket is not None:
            return self._socket
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):  # the host, not the port
                raise fail("host", self.host, f"an address of this machine, such as 127.0.0.1 ({exc.strerror})") \
                    from None
            raise InitlabError(f"port: got {self.port} on {self.host} ({exc.strerror}); allowed: a free port "
                               "(--port 0 picks one)") from None
        self.port = sock.getsockname()[1]
        self._socket = sock
        return sock

    def _make(self):
        import uvicorn

        config = uvicorn.Config(create_app(self.state), log_level="warning", ws="websockets-sansio",
                                ws_max_size=WS_MAX_SIZE, ws_ping_interval=None, lifespan="on",
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        return self._server

    def run(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""
        sock = self.bind()
        server = self._make()
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()

    def start(self, timeout: float = 30.0) -> "Server":
        """Serve in a background thread; return once it accepts connections."""
        sock = self.bind()
        server = self._make()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name="initlab-serve", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the playground server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down: close every page, stop and join every run's thread, then the server's."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
