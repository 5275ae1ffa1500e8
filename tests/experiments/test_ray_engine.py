"""Sweeps on Ray (``--engine ray``): against a real two-node cluster started here on the loopback
interface, and a local ``ray.init``. The same bits as the local engine, stacked groups and single
runs; a worker killed mid-task is retried; a driver killed with SIGKILL and started again loses and
duplicates nothing; progress as for local sweeps; bad input is one line with the run directory intact."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from initlab.errors import InitlabError
from initlab.experiments.sweep import run_sweep

ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra (pip install 'initlab[ray]')")

sys.path.insert(0, str(Path(__file__).parent))
from ray_cluster import RayCluster  # noqa: E402

# two depths x two seeds: two stacked groups of two runs (batched), or four single runs
GRID = {"scheme": ["he_normal"], "depth": [1, 2], "seed": [0, 1], "width": 4, "epochs": 1, "batch_size": 256}
TINY_FLAGS = ["--scheme", "he_normal", "--depth", "1", "--depth", "2", "--seed", "0", "--seed", "1", "--width", "4",
              "--epochs", "1", "--batch-size", "256", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def cluster():
    with RayCluster(nodes=2, cpus=1) as c:
        yield c


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory):
    """The local engine's run directories (one thread), batched and run by run: the reference bits."""
    out = {}
    for batched in (True, False):
        d = tmp_path_factory.mktemp(f"local-{batched}")
        run_sweep(GRID, d, batched=batched, progress=False, threads=1)
        out[batched] = d
    return out


def _records(out: Path) -> dict[str, dict]:
    """Every run file, without its wall time."""
    records = {}
    for path in sorted((out / "runs").iterdir()):
        record = json.loads(path.read_text())
        record.pop("seconds")
        records[path.name] = record
    return records


def _same_as_local(out: Path, local: Path) -> None:
    assert (out / "results.csv").read_bytes() == (local / "results.csv").read_bytes()
    assert (out / "grad_std.csv").read_bytes() == (local / "grad_std.csv").read_bytes()
    assert _records(out) == _records(local)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(p.name for p in (local / "runs").iterdir())


# ------------------------------------------------------------------------------ a real cluster

@pytest.mark.slow
def test_stacked_groups_on_a_two_node_cluster_give_the_local_bits_with_progress(cluster, local_runs, tmp_path):
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=120)
    result = run_sweep(GRID, tmp_path / "r", engine="ray", address=cluster.address, threads=1, console=console)
    assert len(result.trained) == 4 and not result.reused
    assert {json.loads(p.read_text())["trained_with"] for p in (tmp_path / "r" / "runs").iterdir()} == {"batched"}
    _same_as_local(tmp_path / "r", local_runs[True])
    shown = buf.getvalue()
    assert "sweep" in shown and "4/4 runs" in shown


def _die_first_time(marker: str, config, data=None):
    """A trainer whose first call anywhere kills its own Ray worker process (SIGKILL, mid-task)."""
    from initlab.experiments.trainer import train

    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return train(config, data=data)
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_worker_killed_mid_task_is_retried_and_the_sweep_completes(cluster, local_runs, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test's trainer travels by value
    marker = tmp_path / "died"
    train_fn = functools.partial(_die_first_time, str(marker))
    result = run_sweep(GRID, tmp_path / "r", engine="ray", address=cluster.address, threads=1, batched=False,
                       progress=False, train_fn=train_fn)
    assert marker.exists()  # a worker really died
    assert len(result.trained) == 4
    _same_as_local(tmp_path / "r", local_runs[False])


def _cli(out: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "initlab", "sweep", *TINY_FLAGS, "--no-batch", "--engine", "ray",
            "--address", address, "--out", str(out), *extra]


@pytest.mark.slow
def test_driver_killed_at_any_moment_then_rerun_loses_and_duplicates_nothing(cluster, local_runs, tmp_path):
    out = tmp_path / "r"
    moments = []
    for moment in ("starting", "mid-sweep"):  # while importing or connecting; then after some run files
        proc = subprocess.Popen(_cli(out, cluster.address), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if moment == "starting":
            time.sleep(1.0)
        else:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and not list((out / "runs").glob("*.json")):
                time.sleep(0.02)
        assert proc.poll() is None, f"the driver ended before it was killed ({moment})"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        moments.append(len(list((out / "runs").glob("*.json"))) if (out / "runs").exists() else 0)
    assert 1 <= moments[-1] < 4  # the second kill came mid-sweep
    done = subprocess.run(_cli(out, cluster.address), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained" in done.stdout and f"reused {moments[-1]}" in done.stdout
    _same_as_local(out, local_runs[False])
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 * 2  # a header, 4 runs x 2 epoch rows: nothing twice
    assert not [p for p in out.rglob("*.tmp")]


# ------------------------------------------------------------------------------ a local instance

@pytest.mark.slow
def test_without_an_address_a_local_ray_instance_runs_the_sweep(local_runs, tmp_path):
    result = run_sweep(GRID, tmp_path / "r", engine="ray", threads=1, batched=False, progress=False)
    assert len(result.trained) == 4
    assert not ray.is_initialized()  # the instance it started is stopped again
    _same_as_local(tmp_path / "r", local_runs[False])


# ------------------------------------------------------------------------------ bad input

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def finished_run_dir(local_runs, tmp_path):
    """A run directory with finished runs, and a snapshot of its bytes."""
    import shutil

    out = tmp_path / "kept"
    shutil.copytree(local_runs[True], out)
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return out, snapshot


def _unchanged(out: Path, snapshot: dict) -> None:
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize("engine, address, fragment", [
    ("ray", "127.0.0.1:{free}", "address: got '127.0.0.1:{free}'; allowed: the address of a running Ray cluster"),
    ("ray", "nowhere", "address: got 'nowhere'; allowed: host:port"),
    ("ray", "10.0.0.1:99999", "address: got '10.0.0.1:99999'; allowed: host:port"),
    ("local", "127.0.0.1:6379", "address: got '127.0.0.1:6379'; allowed: an address only with engine 'ray'"),
    ("dask", None, "engine: got 'dask'; allowed: 'local', 'ray'"),
])
def test_bad_engine_input_is_one_line_and_the_run_directory_keeps_everything(finished_run_dir, engine, address,
                                                                               fragment):
    out, snapshot = finished_run_dir
    free = _free_port()
    address = None if address is None else address.format(free=free)
    with pytest.raises(InitlabError) as err:
        run_sweep(GRID, out, engine=engine, address=address, threads=1, progress=False)
    message = str(err.value)
    assert fragment.format(free=free) in message and "\n" not in message
    _unchanged(out, snapshot)
    assert not ray.is_initialized()


def test_a_dead_address_leaves_no_new_run_directory_behind(tmp_path):
    out = tmp_path / "new" / "run"
    address = f"127.0.0.1:{_free_port()}"
    with pytest.raises(InitlabError, match=r"^address: got "):
        run_sweep(GRID, out, engine="ray", address=address, threads=1, progress=False)
    assert not out.exists()
    assert not ray.is_initialized()


def test_an_untested_ray_version_is_one_line(finished_run_dir, monkeypatch):
    out, snapshot = finished_run_dir
    monkeypatch.setattr(ray, "__version__", "2.9.3")
    with pytest.raises(InitlabError, match=r"^ray: got '2\.9\.3'; allowed: a Ray version initlab is tested with "
                                           r"\(2\.60\.x\)") as err:
        run_sweep(GRID, out, engine="ray", threads=1, progress=False)
    assert "\n" not in str(err.value)
    _unchanged(out, snapshot)


def test_the_cli_names_a_dead_address_in_one_line_without_a_traceback(finished_run_dir):
    from click.testing import CliRunner

    from initlab.cli import main

    out, snapshot = finished_run_dir
    address = f"127.0.0.1:{_free_port()}"
    result = CliRunner().invoke(main, ["sweep", *TINY_FLAGS, "--engine", "ray", "--address", address,
                                       "--out", str(out)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"Error: address: got {address!r}; allowed: the address of a running Ray cluster's head node "
                     "(connecting to it failed: Connection refused)"]
    _unchanged(out, snapshot)
