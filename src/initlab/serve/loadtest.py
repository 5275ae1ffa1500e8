"""A bounded loopback load test of a running playground: many pages at once, each starting, changing,
stepping and closing runs and sending malformed and oversized messages, while every request is
timed until its answer arrives.

Used by the test suite (a few clients for a few seconds) and by ``benchmarks/bench_serve.py``
(16 clients for 30 s). Only a loopback address may be targeted.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field

from ..errors import InitlabError

__all__ = ["load_test", "ClientReport", "rss_mb", "run_threads"]

_PLANE = ("circle", "xor", "gaussians", "spiral")
_LOOPBACK = ("127.", "localhost", "[::1]")


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return 0.0


def run_threads() -> list[str]:
    """Names of the run worker threads alive in this process."""
    return [t.name for t in threading.enumerate() if t.name.startswith("initlab-run-")]


@dataclass
class ClientReport:
    """What one simulated page saw."""

    requests: int = 0
    answered: int = 0
    latencies: list = field(default_factory=list)
    frames: int = 0
    errors: int = 0
    connections: int = 0
    failures: list = field(default_factory=list)


def _config(rng: random.Random) -> dict:
    plane = rng.random() < 0.7
    return {"dataset": rng.choice(_PLANE) if plane else rng.choice(("digits", "mnist1d")),
            "depth": rng.randint(1, 8), "width": rng.choice((4, 8, 16, 32, 64)),
            "activation": rng.choice(("relu", "tanh", "sigmoid", "gelu", "linear")),
            "scheme": rng.choice(("auto", "he_normal", "glorot_uniform", "zeros", "orthogonal")),
            "seed": rng.randint(0, 1000), "batch_size": rng.choice((8, 32, 128))}


def _bad(rng: random.Random, max_message: int) -> str:
    return rng.choice([
        "not json", "[1, 2]", '{"type": "fly"}', '{"type": "runs", "runs": []}',
        '{"type": "runs", "runs": [{"depth": 1000}]}', '{"type": "step", "n": -3}',
        '{"type": "runs", "runs": [{"width": 4}, {}, {}, {}, {}]}', '{"type": "phase", "run": 9, "sigma_w2": 1}',
        json.dumps({"type": "ping", "pad": "x" * (max_message + 100)}),
    ])


def _client(url: str, seconds: float, rng: random.Random, report: ClientReport, timeout: float, stop_at: float):
    from websockets.sync.client import connect

    def until(ws, kind: str) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                m = json.loads(ws.recv(timeout=max(0.01, end - time.monotonic())))
            except TimeoutError:
                break
            if m["type"] == "frames":
                report.frames += len(m["frames"])
            elif m["type"] == "error":
                report.errors += 1
                if kind == "error":
                    return True
            if m["type"] == kind:
                return True
        return False

    def request(ws, text: str, kind: str) -> None:
        report.requests += 1
        t0 = time.monotonic()
        ws.send(text)
        if until(ws, kind):
            report.answered += 1
            report.latencies.append(time.monotonic() - t0)
        else:
            report.failures.append(f"no {kind!r} within {timeout} s after {text[:60]!r}")

    max_message = 16 * 1024
    while time.monotonic() < stop_at:
        session_end = min(stop_at, time.monotonic() + rng.uniform(2.0, max(2.5, seconds / 3)))
        try:
            with connect(url, max_size=2 ** 24, open_timeout=timeout) as ws:
                report.connections += 1
                hello = json.loads(ws.recv(timeout=timeout))
                if hello.get("type") == "error":  # the page cap: a clear refusal is an answer too
                    report.requests += 1
                    report.answered += 1
                    time.sleep(0.5)
                    continue
                max_message = hello.get("max_message", max_message)
                runs = [_config(rng) for _ in range(rng.randint(1, 2))]
                request(ws, json.dumps({"type": "runs", "runs": runs}), "runs")
                request(ws, '{"type": "play"}', "state")
                while time.monotonic() < session_end:
                    action = rng.random()
                    if action < 0.3:
                        runs[rng.randrange(len(runs))] = _config(rng)
                        request(ws, json.dumps({"type": "runs", "runs": runs}), "runs")
                    elif action < 0.45:
                        request(ws, json.dumps({"type": "step", "n": rng.randint(1, 20)}), "state")
                    elif action < 0.7:
                        request(ws, _bad(rng, max_message), "error")
                    else:
                        request(ws, '{"type": "ping"}', "pong")
                    time.sleep(rng.uniform(0.05, 0.3))
        except Exception as exc:  # noqa: BLE001 - recorded, the test reports it
            report.failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.2)


def load_test(url: str, *, clients: int = 16, seconds: float = 30.0, seed: int = 0, timeout: float = 10.0) -> dict:
    """Run ``clients`` simulated pages against the websocket ``url`` (a loopback address) for
    ``seconds``; return the figures: requests, answered, latency percentiles (s), frames, errors
    received (malformed messages are meant to draw them), connections and failures."""
    if not url.startswith(("ws://", "wss://")) or not url.split("//", 1)[1].startswith(_LOOPBACK):
        raise InitlabError(f"url: got {url!r}; allowed: a ws:// URL on a loopback address (127.x, localhost, [::1])")
    reports = [ClientReport() for _ in range(clients)]
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=_client, args=(url, seconds, random.Random(seed * 1000 + k), reports[k],
                                                      timeout, stop_at), name=f"load-client-{k}", daemon=True)
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 4 * timeout)
    lat = sorted(x for r in reports for x in r.latencies)

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"clients": clients, "seconds": seconds, "requests": sum(r.requests for r in reports),
            "answered": sum(r.answered for r in reports), "latency_p50": pct(0.5), "latency_p99": pct(0.99),
            "latency_max": lat[-1] if lat else float("nan"), "frames": sum(r.frames for r in reports),
            "errors": sum(r.errors for r in reports), "connections": sum(r.connections for r in reports),
            "clients_answered": sum(1 for r in reports if r.requests and r.answered == r.requests),
            "failures": [f for r in reports for f in r.failures], "hung": sum(t.is_alive() for t in threads)}
