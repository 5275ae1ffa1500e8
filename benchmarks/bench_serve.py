"""The playground under load: training speed while streaming, latency of a control change, render time
in Chromium, and a bounded loopback load test — each set beside its anchor in the same run.

1. **Steps per second while streaming** to a connected page (frames read as a page reads them) against
   the same network trained by initlab's trainer alone (``initlab.experiments.train``, one thread,
   as the server's workers run) and against the bare steps of the live session (no frames). Cases:
   a 6×8 tanh net on spiral, a 30×128 ReLU net (He) on digits. Target: streaming ≥ 0.8× the trainer.
2. **Control change → first updated frame** for the 30×128 net while it trains: a new seed is sent,
   the clock stops when the first frame of the rebuilt run arrives. Target ≤ 300 ms.
3. **Render of one update** in Chromium (Performance API, the page's own timing of each update), the
   30×128 net streaming. Target ≤ 16 ms. Skipped without Chromium and Playwright.
4. **Load test**: ``--clients`` pages for ``--seconds`` on the loopback interface, each starting,
   changing, stepping and closing runs and sending malformed and oversized messages: requests
   answered, latency, memory, workers left.

    python benchmarks/bench_serve.py [--seconds-per-case 6] [--repeats 3] [--clients 16] [--seconds 30]
                                     [--skip-browser] [--skip-load]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time

import torch

from _common import table

CASES = {
    "6x8 tanh, spiral": {"dataset": "spiral", "depth": 6, "width": 8, "activation": "tanh",
                         "scheme": "glorot_normal", "lr": 0.03, "batch_size": 32},
    "30x128 relu, digits": {"dataset": "digits", "depth": 30, "width": 128, "activation": "relu",
                            "scheme": "he_normal", "lr": 0.002, "batch_size": 32},
}


def trainer_rate(cfg: dict, seconds: float) -> float:
    """Steps per second of initlab.experiments.train on one thread (epochs sized to last ~seconds)."""
    from initlab.experiments import TrainConfig, train
    from initlab.experiments.live import LiveConfig, live_data

    live = LiveConfig.from_dict(cfg)
    data = live_data(live)
    out = {}

    def work():
        torch.set_num_threads(1)
        probe = train(TrainConfig(dataset=live.dataset, depth=live.depth, width=live.width, activation=live.activation,
                                  scheme=live.scheme, lr=live.lr, batch_size=live.batch_size, epochs=1), data=data)
        epochs = max(1, int(seconds / max(probe.time_s, 1e-3)))
        r = train(TrainConfig(dataset=live.dataset, depth=live.depth, width=live.width, activation=live.activation,
                              scheme=live.scheme, lr=live.lr, batch_size=live.batch_size, epochs=epochs), data=data)
        out["rate"] = r.steps / r.time_s

    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out["rate"]


def bare_rate(cfg: dict, seconds: float) -> float:
    """Steps per second of the live session's own steps, no frames (one thread)."""
    from initlab.experiments.live import LiveSession

    out = {}

    def work():
        torch.set_num_threads(1)
        s = LiveSession(cfg)
        s.train(5)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            n += s.train(20)
        out["rate"] = n / (time.perf_counter() - t0)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out["rate"]


class Page:
    """A page over a websocket: reads every message as it comes, like the browser does."""

    def __init__(self, port: int):
        from websockets.sync.client import connect

        self.cm = connect(f"ws://127.0.0.1:{port}/ws", max_size=2 ** 24)
        self.ws = self.cm.__enter__()
        self.frames: list[tuple[float, dict]] = []
        self.runs: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        try:
            while True:
                m = json.loads(self.ws.recv())
                now = time.perf_counter()
                with self.lock:
                    if m["type"] == "frames":
                        self.frames += [(now, f) for f in m["frames"]]
                    elif m["type"] == "run":
                        self.runs.append((now, m))
        except Exception:  # noqa: BLE001 - the page closed
            return

    def send(self, obj):
        self.ws.send(json.dumps(obj))

    def wait(self, cond, timeout=60.0):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            with self.lock:
                hit = cond(self)
            if hit:
                return hit
            time.sleep(0.002)
        raise TimeoutError("the page waited in vain")

    def close(self):
        self.cm.__exit__(None, None, None)


def streaming_rate(port: int, cfg: dict, seconds: float) -> tuple[float, float]:
    """Steps per second seen by a page while the run plays, and the page's frames per second."""
    page = Page(port)
    try:
        page.send({"type": "runs", "runs": [cfg]})
        page.wait(lambda p: p.frames)
        page.send({"type": "play"})
        page.wait(lambda p: p.frames and p.frames[-1][1]["step"] > 0)
        time.sleep(0.5)
        with page.lock:
            t0, f0 = page.frames[-1]
            n0 = len(page.frames)
        time.sleep(seconds)
        with page.lock:
            t1, f1 = page.frames[-1]
            n1 = len(page.frames)
        page.send({"type": "pause"})
        return (f1["step"] - f0["step"]) / (t1 - t0), (n1 - n0) / (t1 - t0)
    finally:
        page.close()


def change_latency(port: int, cfg: dict, repeats: int) -> list[float]:
    """Milliseconds from sending a new seed while playing to the first frame of the rebuilt run."""
    page = Page(port)
    out = []
    try:
        page.send({"type": "runs", "runs": [cfg]})
        page.wait(lambda p: p.frames)
        page.send({"type": "play"})
        time.sleep(1.0)
        for k in range(repeats):
            with page.lock:
                gen = page.runs[-1][1]["gen"] if page.runs else 0
            t0 = time.perf_counter()
            page.send({"type": "runs", "runs": [{**cfg, "seed": 100 + k}]})
            t1 = page.wait(lambda p: next((t for t, f in p.frames if f["gen"] > gen), None))
            out.append(1e3 * (t1 - t0))
            time.sleep(0.4)
    finally:
        page.close()
    return out


def render_times(url: str, cfg: dict, seconds: float) -> list[float] | str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return "skipped: no Chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: no Playwright"
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    state = "#" + "&".join(f"{k}={v}" for k, v in (("data", cfg["dataset"]), ("depth", cfg["depth"]),
                                                      ("width", cfg["width"]), ("act", cfg["activation"]),
                                                      ("init", cfg["scheme"]), ("lr", cfg["lr"])))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = b.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url + state)
            page.wait_for_function("window.playground && window.playground.frames > 0", timeout=60_000)
            page.wait_for_timeout(500)
            page.evaluate("playground.renderTimes.length = 0")
            page.keyboard.press(" ")
            page.wait_for_timeout(int(seconds * 1000))
            page.keyboard.press(" ")
            return page.evaluate("playground.renderTimes.slice()")
        finally:
            b.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds-per-case", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of trainer / streaming / bare steps per case")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0, help="load-test duration")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    a = ap.parse_args()

    from initlab.serve import Server
    from initlab.serve.loadtest import load_test, rss_mb, run_threads

    print(f"initlab playground benchmark — torch {torch.__version__}, {os.cpu_count()} CPUs, one torch thread per run, "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    with Server(port=0, max_pages=max(16, a.clients)) as srv:
        for name, cfg in CASES.items():
            tr, bare, st, fps, vs_t, vs_b = [], [], [], [], [], []
            for _ in range(a.repeats):  # each round measures the three side by side; ratios per round
                tr.append(trainer_rate(cfg, a.seconds_per_case))
                s, f = streaming_rate(srv.port, cfg, a.seconds_per_case)
                bare.append(bare_rate(cfg, a.seconds_per_case / 2))
                st.append(s)
                fps.append(f)
                vs_t.append(s / tr[-1])
                vs_b.append(s / bare[-1])
            rows.append([name, f"{statistics.median(tr):.0f}", f"{statistics.median(bare):.0f}",
                         f"{statistics.median(st):.0f}", f"{statistics.median(fps):.1f}",
                         f"{statistics.median(vs_t):.2f} ({min(vs_t):.2f}-{max(vs_t):.2f})",
                         f"{statistics.median(vs_b):.2f} ({min(vs_b):.2f}-{max(vs_b):.2f})", "≥ 0.80"])
        print("\n1. training steps per second (medians of", a.repeats, "rounds; ratios per round: median (min-max))")
        print(table(["case", "trainer alone", "session, no frames", "streaming", "frames/s", "ratio vs trainer",
                     "ratio vs bare steps", "target"], rows))

        lat = change_latency(srv.port, CASES["30x128 relu, digits"], 8)
        print(f"\n2. control change → first updated frame, 30x128 net while training: median {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms over {len(lat)} changes (target ≤ 300 ms)")

        if not a.skip_browser:
            times = render_times(srv.url, CASES["30x128 relu, digits"], 6.0)
            if isinstance(times, str):
                print(f"\n3. render of one update in Chromium: {times}")
            else:
                times.sort()
                print(f"\n3. render of one update in Chromium, 30x128 net streaming: median {statistics.median(times):.1f} ms, "
                      f"p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms, max {times[-1]:.1f} ms over {len(times)} "
                      "updates (target ≤ 16 ms)")

        if not a.skip_load:
            before = rss_mb()
            peak = [before]
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_mb())
                    time.sleep(0.2)

            w = threading.Thread(target=watch, daemon=True)
            w.start()
            r = load_test(f"ws://127.0.0.1:{srv.port}/ws", clients=a.clients, seconds=a.seconds, timeout=15)
            stop.set()
            left_end = time.monotonic() + 20
            while run_threads() and time.monotonic() < left_end:
                time.sleep(0.1)
            print(f"\n4. load test: {r['clients']} clients × {r['seconds']:.0f} s on 127.0.0.1")
            print(table(["requests", "answered", "clients fully answered", "latency p50", "p99", "max", "frames",
                         "errors sent back", "connections", "RSS before", "peak", "after", "workers left"],
                        [[r["requests"], r["answered"], f"{r['clients_answered']}/{r['clients']}",
                          f"{1e3 * r['latency_p50']:.0f} ms", f"{1e3 * r['latency_p99']:.0f} ms",
                          f"{1e3 * r['latency_max']:.0f} ms", r["frames"], r["errors"], r["connections"],
                          f"{before:.0f} MiB", f"{peak[0]:.0f} MiB", f"{rss_mb():.0f} MiB", len(run_threads())]]))
            if r["failures"]:
                print("   failures:", *r["failures"][:10], sep="\n   ")
    print(f"\nafter shutdown: {len(run_threads())} run worker threads left")


if __name__ == "__main__":
    main()
