"""The playground server over a real websocket: frames, limits, errors that keep the page up,
reset that redraws the same weights, and no run thread left once a page or the server closes."""

import json
import time

import pytest

from conftest import Client, wait_no_runs

TINY = {"dataset": "xor", "depth": 2, "width": 8, "activation": "tanh", "scheme": "glorot_normal", "batch_size": 16}


def test_static_page_is_served_offline(server):
    import urllib.request

    html = urllib.request.urlopen(server.url, timeout=10).read().decode()
    assert "/static/app.js" in html and "/static/vendor/uplot/uPlot.iife.min.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from another host
    for path in ("static/app.js", "static/style.css", "static/vendor/uplot/uPlot.iife.min.js",
                 "static/vendor/uplot/LICENSE"):
        body = urllib.request.urlopen(server.url + path, timeout=10).read()
        assert len(body) > 500, path


def test_hello_lists_choices_claims_and_limits(client):
    h = client.hello
    assert h["limits"]["depth"] == [1, 64] and h["limits"]["width"] == [2, 512]
    assert h["limits"]["batch_size"] == [1, 1024] and h["max_runs"] == 4
    assert {"circle", "xor", "gaussians", "spiral", "digits", "mnist1d"} <= set(h["datasets"])
    assert {"he_normal", "orthogonal", "zeros", "auto", "lsuv"} <= {s["name"] for s in h["schemes"]}
    from initlab.experiments.presets import PRESETS

    assert [c["name"] for c in h["claims"]] == list(PRESETS)


def test_first_frame_then_steps(client):
    client.send({"type": "runs", "runs": [TINY]})
    info = client.next("run")
    assert info["info"]["config"]["depth"] == 2 and info["info"]["data"]["plane"]
    f0 = client.frame(where=lambda f: f["step"] == 0)
    assert f0["first_loss"] is None and len(f0["layers"]) == 3 and f0["gen"] == info["gen"]
    client.send({"type": "step", "n": 5})
    f5 = client.frame(where=lambda f: f["step"] == 5)
    assert f5["first_loss"] is not None and f5["test"]["acc"] is not None


def test_reset_redraws_the_same_weights_new_seed_others(client):
    client.send({"type": "runs", "runs": [TINY]})
    client.next("run")
    client.send({"type": "step", "n": 1})
    first = client.frame(where=lambda f: f["step"] == 1)["first_loss"]
    client.send({"type": "step", "n": 3})
    client.frame(where=lambda f: f["step"] == 4)
    client.send({"type": "reset"})
    again = client.next("run")
    client.send({"type": "step", "n": 1})
    f = client.frame(where=lambda f: f["step"] == 1 and f["gen"] == again["gen"])
    assert f["first_loss"] == first
    client.send({"type": "runs", "runs": [{**TINY, "seed": 77}]})
    other = client.next("run")
    client.send({"type": "step", "n": 1})
    f = client.frame(where=lambda f: f["step"] == 1 and f["gen"] == other["gen"])
    assert f["first_loss"] != first


def test_bad_messages_get_errors_and_the_page_keeps_working(client):
    client.send({"type": "runs", "runs": [TINY]})
    client.next("run")
    bad = ["{oops", '{"type": "runs", "runs": [{"depth": 100}]}', '{"type": "step", "n": 0}',
           '{"type": "runs", "runs": [{}, {}, {}, {}, {}]}', json.dumps({"type": "ping", "pad": "x" * 20000}),
           b"\x00binary", '{"type": "runs", "runs": [{"scheme": "dirac"}]}']
    fields = []
    for text in bad:
        client.send(text)
        err = client.next("error")
        assert err["message"] and err["allowed"], err
        fields.append(err["field"])
    assert fields[:6] == ["message", "runs[0].depth", "n", "runs", "message", "message"]
    assert fields[6].startswith("runs[0].")  # dirac needs a conv weight: refused when the run is built
    client.send({"type": "ping"})
    client.next("pong")
    client.send({"type": "step", "n": 2})
    assert client.frame(where=lambda f: f["step"] >= 2)["step"] >= 2  # the old run is still there


def test_run_commands_before_any_run_are_refused(client):
    for msg in ({"type": "phase", "run": 0, "sigma_w2": 2, "sigma_b2": 0}, {"type": "code", "run": 0}):
        client.send(msg)
        assert client.next("error")["field"] == "run"
    client.send({"type": "step", "n": 3})  # nothing to step: answered, nothing breaks
    client.next("state")
    client.send({"type": "ping"})
    client.next("pong")


def test_frames_are_throttled_and_carry_summaries(client):
    client.send({"type": "runs", "runs": [TINY, {**TINY, "scheme": "he_normal"}]})
    client.next("runs")
    client.send({"type": "play"})
    client.next("state")
    t0 = time.monotonic()
    sizes, count = [], 0
    while time.monotonic() - t0 < 2.0:
        m = json.loads(client.ws.recv(timeout=5))
        if m["type"] == "frames":
            count += 1
            sizes.append(sum(len(json.dumps(f)) for f in m["frames"]))
    elapsed = time.monotonic() - t0
    client.send({"type": "pause"})
    assert count <= 20 * elapsed + 2, (count, elapsed)
    assert count >= 2
    assert max(sizes) < 200_000  # summaries: bins, scalars, small grids


def test_phase_click_and_code(client):
    client.send({"type": "runs", "runs": [TINY]})
    client.next("run")
    client.send({"type": "phase", "run": 0, "sigma_w2": 1.5, "sigma_b2": 0.09})
    info = client.next("run", where=lambda m: m["info"]["config"]["scheme"] == "variance_scaling")
    cfg = info["info"]["config"]
    assert cfg["scheme_params"]["scale"] == 1.5 and cfg["bias"] == "random_normal"
    f = client.frame(where=lambda f: f["gen"] == info["gen"])
    assert f["phase_point"]["sigma_w2"] > 0
    client.send({"type": "code", "run": 0})
    code = client.next("code")
    assert "initlab.initialize(model" in code["script"] and "variance_scaling" in code["script"]


def test_runs_stop_when_the_page_closes(server):
    c = Client(server)
    c.send({"type": "runs", "runs": [TINY, TINY, TINY]})
    c.send({"type": "play"})
    c.frame(run=2)
    c.send({"type": "runs", "runs": [TINY]})  # two runs closed while the page stays
    c.next("runs")
    c.close()
    assert wait_no_runs() == []
    assert server.state.budget.used == 0


def test_page_cap(server):
    pages = [Client(server) for _ in range(server.state.max_pages)]
    try:
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            m = json.loads(ws.recv(timeout=10))
            assert m["type"] == "error" and m["field"] == "pages", m
            with pytest.raises(Exception):
                ws.recv(timeout=10)
            assert ws.close_code == 1013
    finally:
        for p in pages:
            p.close()
    wait_no_runs()


def test_parameter_budget_is_shared_by_all_pages(server):
    big = {"dataset": "digits", "depth": 40, "width": 256, "activation": "relu"}  # 2.6 M of the 3 M budget
    a, b = Client(server), Client(server)
    try:
        a.send({"type": "runs", "runs": [big]})
        a.next("run")
        b.send({"type": "runs", "runs": [big]})
        err = b.next("error")
        assert err["field"] == "parameters" and err.get("rejected"), err
    finally:
        a.close()
        b.close()
    assert wait_no_runs() == []


def test_server_shutdown_stops_every_run():
    from initlab.serve import Server

    srv = Server(port=0).start()
    c = Client(srv)
    c.send({"type": "runs", "runs": [TINY, {**TINY, "dataset": "digits"}]})
    c.send({"type": "play"})
    c.frame(run=1)
    srv.stop()
    assert wait_no_runs() == []
    assert not srv._thread.is_alive()
    with pytest.raises(Exception):
        for _ in range(1000):
            c.ws.recv(timeout=5)


@pytest.mark.slow
def test_bounded_load(server):
    """A few pages for a few seconds, starting, changing, stepping and closing runs and sending malformed
    and oversized messages: every request answered, memory bounded, no worker left."""
    from initlab.serve.loadtest import load_test, rss_mb

    before = rss_mb()
    r = load_test(f"ws://127.0.0.1:{server.port}/ws", clients=4, seconds=5, timeout=15)
    assert r["failures"] == [] and r["hung"] == 0, r["failures"][:5]
    assert r["requests"] > 20 and r["answered"] == r["requests"]
    assert r["errors"] > 0 and r["frames"] > 0
    assert rss_mb() - before < 800
    assert wait_no_runs() == []
    assert server.state.budget.used == 0
