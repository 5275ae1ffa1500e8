"""The sweep runner: run-directory layout, the tidy table, resuming (also after SIGKILL), refusing a
different config, grouping runs for the stacked trainer, and determinism."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from initlab.errors import InitlabError
from initlab.experiments.batched import SHARED_FIELDS
from initlab.experiments.config import SweepConfig
from initlab.experiments.sweep import group_runs, load_runs, run_sweep, train_many
from initlab.experiments.trainer import TrainConfig, train

GRID = {"scheme": ["he_normal", "lecun_normal"], "activation": "relu", "depth": [2, 3], "width": 8,
        "seed": [0, 1], "dataset": "digits", "epochs": 2}
METRICS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "diverged"]


def _fake_result(cfg: TrainConfig):
    """A deterministic stand-in for train(): numbers that identify the config."""
    tag = cfg.depth * 100 + cfg.seed * 10 + (cfg.scheme == "lecun_normal")
    history = [{"epoch": e, "train_loss": tag + e / 10, "train_acc": e / 10, "test_loss": tag - e / 10,
                "test_acc": e / 20, "diverged": False} for e in range(cfg.epochs + 1)]
    grads = [{"step": 0, "layer": i, "layer_name": str(i), "grad_std": float(i + 1)} for i in range(cfg.depth + 1)]
    return SimpleNamespace(history=history, grad_std=grads, diverged=False)


class Fake:
    """Counts what the runner asks to train."""

    def __init__(self, batched_error: Exception | None = None):
        self.single: list[TrainConfig] = []
        self.groups: list[list[TrainConfig]] = []
        self.batched_error = batched_error

    def train(self, cfg, data=None):
        self.single.append(cfg)
        return _fake_result(cfg)

    def batched(self, cfgs, data=None):
        self.groups.append(list(cfgs))
        if self.batched_error is not None:
            raise self.batched_error
        return [_fake_result(c) for c in cfgs]

    def run(self, out, config=GRID, **kw):
        return run_sweep(config, out, progress=False, train_fn=self.train, batched_fn=self.batched, **kw)


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------ layout


def test_run_directory_holds_config_run_files_and_tidy_table(tmp_path):
    fake = Fake()
    result = fake.run(tmp_path / "sweep")
    out = tmp_path / "sweep"
    resolved = SweepConfig.from_dict(GRID).resolve()
    stored = json.loads((out / "config.json").read_text())
    assert stored["sweep"] == json.loads(json.dumps(resolved.to_dict()))

    specs = resolved.runs()
    assert len(specs) == 8 and sorted(result.run_ids) == sorted(s.run_id for s in specs)
    assert sorted(p.stem for p in (out / "runs").glob("*.json")) == sorted(s.run_id for s in specs)

    rows = _read_csv(out / "results.csv")
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert list(rows[0]) == ["run_id", *fields, *METRICS]
    assert len(rows) == 8 * (2 + 1)
    for spec in specs:
        mine = [r for r in rows if r["run_id"] == spec.run_id]
        assert [int(r["epoch"]) for r in mine] == [0, 1, 2]
        expected = _fake_result(spec.train_config()).history
        assert [float(r["train_loss"]) for r in mine] == [h["train_loss"] for h in expected]
        for name in ("scheme", "depth", "seed", "width", "activation"):
            assert {r[name] for r in mine} == {str(spec.params[name])}
    grads = _read_csv(out / "grad_std.csv")
    assert len(grads) == sum(s.params["depth"] + 1 for s in specs)
    assert [r["run_id"] for r in load_runs(out)] == [s.run_id for s in specs]


def test_runs_sharing_an_architecture_are_trained_together(tmp_path):
    fake = Fake()
    fake.run(tmp_path / "s")
    # two depths -> two architectures, each with 2 schemes x 2 seeds
    assert sorted(len(g) for g in fake.groups) == [4, 4] and not fake.single
    for group in fake.groups:
        assert len({tuple(getattr(c, f) for f in SHARED_FIELDS) for c in group}) == 1
    record = json.loads(next((tmp_path / "s" / "runs").glob("*.json")).read_text())
    assert record["trained_with"] == "batched"


def test_no_batch_trains_run_by_run(tmp_path):
    fake = Fake()
    fake.run(tmp_path / "s", batched=False)
    assert len(fake.single) == 8 and not fake.groups


def test_a_group_the_stacked_trainer_declines_falls_back_to_train(tmp_path):
    fake = Fake(batched_error=InitlabError("model: got 'cnn'"))
    result = fake.run(tmp_path / "s")
    assert len(fake.groups) == 2 and len(fake.single) == 8 and len(result.trained) == 8
    record = json.loads(next((tmp_path / "s" / "runs").glob("*.json")).read_text())
    assert record["trained_with"] == "single"


def test_group_runs_splits_by_shared_fields_and_size():
    specs = SweepConfig.from_dict({**GRID, "lr": [0.1, 0.01], "activation": ["relu", "tanh"]}).runs()
    groups = group_runs(specs, max_group=3)
    assert sum(len(g) for g in groups) == len(specs) == 32
    assert max(len(g) for g in groups) == 3
    for g in groups:
        keys = {tuple(g_.train_config().__dict__[f] for f in SHARED_FIELDS) for g_ in g}
        assert len(keys) == 1
    assert len(group_runs(specs, max_group=64)) == 4  # 2 activations x 2 depths
    assert all(len(g) == 1 for g in group_runs(specs, batched=False))


# ------------------------------------------------------------------------------ resuming


def test_rerun_reuses_every_finished_run(tmp_path):
    Fake().run(tmp_path / "s")
    before = (tmp_path / "s" / "results.csv").read_bytes()
    fake = Fake()
    result = fake.run(tmp_path / "s")
    assert not fake.single and not fake.groups
    assert result.trained == [] and len(result.reused) == 8
    assert (tmp_path / "s" / "results.csv").read_bytes() == before


def test_missing_runs_are_redone_and_finished_files_kept(tmp_path):
    out = tmp_path / "s"
    Fake().run(out)
    files = sorted((out / "runs").glob("*.json"))
    kept = {p.name: p.read_bytes() for p in files}
    lost = files[0]
    lost.unlink()
    del kept[lost.name]
    fake = Fake()
    result = fake.run(out)
    assert result.trained == [lost.stem]
    # the group of the lost run is trained whole (its numbers must not depend on what survived) ...
    assert [len(g) for g in fake.groups] == [4]
    # ... but the files of finished runs are not rewritten
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json") if p.name in kept} == kept
    rows = _read_csv(out / "results.csv")
    assert len(rows) == 8 * 3 and len({(r["run_id"], r["epoch"]) for r in rows}) == 8 * 3


def test_leftover_temporary_and_corrupt_files_are_cleaned_and_redone(tmp_path):
    out = tmp_path / "s"
    Fake().run(out, batched=False)
    victim = sorted((out / "runs").glob("*.json"))[3]
    victim.write_text('{"run_id": "half-writ')  # as if written by something that is not atomic
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (out / "runs" / f".{victim.name}.{dead}.tmp").write_text("{")  # a killed process's half-written file
    (out / f".results.csv.{dead}.0a1b.tmp").write_text("run_id")
    fake = Fake()
    result = fake.run(out, batched=False)
    assert result.trained == [victim.stem] and len(fake.single) == 1
    assert not list((out / "runs").glob(".*.tmp")) and not list(out.glob(".*.tmp"))
    assert json.loads(victim.read_text())["run_id"] == victim.stem


def test_a_live_process_temporary_file_is_never_deleted(tmp_path):
    out = tmp_path / "s"
    Fake().run(out)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            theirs = out / "runs" / f".someone-elses.json.{other.pid}.beef.tmp"
            theirs.write_text("{ still being written")
            Fake().run(out)
            assert theirs.read_text() == "{ still being written"
        finally:
            other.kill()


def test_a_run_file_cut_short_is_redone(tmp_path):
    out = tmp_path / "s"
    Fake().run(out, batched=False)
    victim = sorted((out / "runs").glob("*.json"))[2]
    record = json.loads(victim.read_text())
    assert len(record["history"]) == GRID["epochs"] + 1
    record["history"] = record["history"][:-1]  # the config says 2 epochs; the file holds 1
    victim.write_text(json.dumps(record))
    fake = Fake()
    result = fake.run(out, batched=False)
    assert result.trained == [victim.stem]
    assert len(json.loads(victim.read_text())["history"]) == GRID["epochs"] + 1


def test_a_diverged_run_with_a_short_history_is_finished():
    from initlab.experiments.sweep import history_complete

    rows = [{"epoch": 0, "diverged": False}, {"epoch": 1, "diverged": True}]
    assert history_complete(rows, 5) and not history_complete(rows[:1], 5)
    assert history_complete(rows[:1] + [{"epoch": 1, "diverged": False}], 1)
    assert not history_complete([{"epoch": 0}, {"epoch": 2}], 2) and not history_complete([], 0)
    assert not history_complete("x", 1) and not history_complete([{"epoch": 0}, "x"], 1)


def test_a_different_config_in_an_existing_directory_is_an_error(tmp_path):
    out = tmp_path / "s"
    Fake().run(out)
    with pytest.raises(InitlabError) as err:
        Fake().run(out, config={**GRID, "depth": [2, 3, 4]})
    msg = str(err.value)
    assert msg.startswith("out:") and "different config" in msg and "depth: [2, 3] here, [2, 3, 4] asked" in msg
    assert len(list((out / "runs").glob("*.json"))) == 8  # nothing mixed in


def test_a_directory_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InitlabError, match="not a sweep directory"):
        Fake().run(tmp_path)


def test_two_processes_never_write_one_directory(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "s"
    Fake().run(out)
    with open(out / ".lock", "w") as held:  # as another running sweep would hold it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InitlabError, match="being written by another sweep"):
            Fake().run(out)
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert Fake().run(out).reused  # free again


class SlowFake(Fake):
    """Trains slowly enough that two sweeps started together overlap."""

    def batched(self, cfgs, data=None):
        time.sleep(0.3)
        return super().batched(cfgs, data)


@pytest.mark.parametrize("same_config", [True, False])
def test_two_sweeps_started_together_on_a_fresh_directory(tmp_path, same_config):
    """One runs; the other is told, in one line, that the directory is being written by another sweep;
    the directory ends with one sweep's config and only that sweep's results."""
    pytest.importorskip("fcntl")
    out = tmp_path / "fresh"
    configs = [GRID, GRID if same_config else {**GRID, "depth": [4]}]
    start = threading.Barrier(2)
    outcome: list = [None, None]

    def go(k):
        start.wait()
        try:
            outcome[k] = SlowFake().run(out, config=configs[k])
        except InitlabError as exc:
            outcome[k] = exc

    threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [o for o in outcome if isinstance(o, InitlabError)]
    done = [k for k, o in enumerate(outcome) if not isinstance(o, InitlabError)]
    assert len(errors) == 1 and len(done) == 1, outcome
    assert "being written by another sweep" in str(errors[0]) and "\n" not in str(errors[0])
    winner = SweepConfig.from_dict(configs[done[0]]).resolve()
    assert json.loads((out / "config.json").read_text())["sweep"] == json.loads(json.dumps(winner.to_dict()))
    assert sorted(p.stem for p in (out / "runs").glob("*.json")) == sorted(s.run_id for s in winner.runs())
    assert not list(out.glob(".*.tmp")) and not list((out / "runs").glob(".*.tmp"))


def test_the_lock_is_taken_before_the_config_is_read(tmp_path, monkeypatch):
    """Nothing in the directory is read or written before the lock is held."""
    from initlab.experiments import sweep

    events = []
    real_exclusive, real_prepare = sweep._exclusive, sweep._prepare

    @contextlib.contextmanager
    def exclusive(out):
        with real_exclusive(out):
            events.append("locked")
            yield

    monkeypatch.setattr(sweep, "_exclusive", exclusive)
    monkeypatch.setattr(sweep, "_prepare", lambda *a: (events.append("prepare"), real_prepare(*a))[1])
    Fake().run(tmp_path / "s")
    assert events == ["locked", "prepare"]


@pytest.mark.parametrize("alias", ["kaiming_normal", "He_Normal", "kaiming_normal_"])
def test_an_alias_resumes_the_sweep_of_its_canonical_name(tmp_path, alias):
    first = Fake().run(tmp_path / "s", config={**GRID, "scheme": ["he_normal", "lecun_normal"]})
    fake = Fake()
    again = fake.run(tmp_path / "s", config={**GRID, "scheme": [alias, "LeCun_Normal"]})
    assert again.trained == [] and sorted(again.reused) == sorted(first.run_ids)
    assert not fake.single and not fake.groups


@pytest.mark.parametrize("scheme, needle", [
    ("random_normal(std=-1)", "std: got -1"),
    ("random_uniform(minval=1, maxval=0)", "minval"),
    ("identity(gain=nan)", "gain"),
])
def test_every_scheme_parameter_is_resolved_before_the_directory_is_made(tmp_path, scheme, needle):
    fake = Fake()
    with pytest.raises(InitlabError, match=re.escape(needle)) as err:
        fake.run(tmp_path / "never", config={**GRID, "scheme": ["he_normal", scheme]})
    assert "\n" not in str(err.value)
    assert not (tmp_path / "never").exists() and not fake.single and not fake.groups
    # the corrected command then runs in the same place
    assert len(Fake().run(tmp_path / "never", config={**GRID, "scheme": ["he_normal"]}).trained) == 4


def test_a_bad_config_is_rejected_before_anything_is_written(tmp_path):
    fake = Fake()
    with pytest.raises(InitlabError, match=r"^depth: got 0"):
        fake.run(tmp_path / "never", config={**GRID, "depth": [2, 0]})
    assert not (tmp_path / "never").exists() and not fake.single and not fake.groups


def test_a_data_set_whose_files_are_missing_is_reported_before_anything_runs(tmp_path):
    fake = Fake()
    with pytest.raises(InitlabError, match="mnist"):
        fake.run(tmp_path / "never", config={**GRID, "dataset": ["digits", "mnist"]}, data_root=tmp_path / "empty")
    assert not (tmp_path / "never").exists() and not fake.single and not fake.groups


def test_parquet_is_written_only_with_pyarrow(tmp_path):
    result = Fake().run(tmp_path / "s")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert not (tmp_path / "s" / "results.parquet").exists()
    else:
        table = pq.read_table(tmp_path / "s" / "results.parquet")
        assert table.num_rows == len(result.rows)


# ------------------------------------------------------------------------------ real training


REAL = {"scheme": ["he_normal", "random_normal(std=0.01)"], "depth": 2, "width": 8, "seed": [0, 1],
        "epochs": 1, "batch_size": 128}


def test_same_seed_same_results_table(tmp_path):
    a = run_sweep(REAL, tmp_path / "a", progress=False)
    b = run_sweep(REAL, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()
    assert a.rows == b.rows and len(a.rows) == 4 * 2
    record = json.loads(next((tmp_path / "a" / "runs").glob("*.json")).read_text())
    assert record["trained_with"] == "batched"


def test_train_many_matches_train(digits_small):
    configs = [TrainConfig(depth=2, width=8, scheme=s, seed=sd, epochs=1, batch_size=64)
               for s in ("he_normal", "glorot_normal") for sd in (0, 1)]
    got = train_many(configs, digits_small)
    for cfg, res in zip(configs, got):
        ref = train(cfg, data=digits_small)
        assert res.config == cfg
        for r1, r2 in zip(res.history, ref.history):
            assert r1["train_loss"] == pytest.approx(r2["train_loss"], rel=1e-4, abs=1e-6)


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_without_duplicates(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "initlab", "sweep", "--scheme", "he_normal", "--scheme", "lecun_normal",
           "--depth", "2", "--width", "16", "--seed", "0", "--seed", "1", "--seed", "2", "--seed", "3",
           "--epochs", "3", "--batch-size", "32", "--no-batch", "--no-progress", "--threads", "1",
           "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while not list(out.glob("runs/*.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no run finished in time"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished_before = {p.stem: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert 1 <= len(finished_before) < 8
    assert not (out / "results.csv").exists()

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"reused {len(finished_before)} finished runs" in again.stdout

    specs = SweepConfig.from_dict(json.loads((out / "config.json").read_text())["sweep"]).runs()
    files = sorted((out / "runs").glob("*.json"))
    assert sorted(p.stem for p in files) == sorted(s.run_id for s in specs)
    assert not list((out / "runs").glob(".*.tmp"))
    for stem, data in finished_before.items():
        assert (out / "runs" / f"{stem}.json").read_bytes() == data
    rows = _read_csv(out / "results.csv")
    keys = [(r["run_id"], r["epoch"]) for r in rows]
    assert len(keys) == len(set(keys)) == 8 * 4
    assert {r["run_id"] for r in rows} == {s.run_id for s in specs}


def test_sweeps_in_threads_never_trace_two_models_at_once(tmp_path, monkeypatch):
    """torch.fx patches torch.nn.Module process-wide while it traces; two traces at once can leave the
    patch behind and break every later module call. Concurrent sweeps plan their models (initialize,
    which traces) one at a time."""
    import torch.fx

    real = torch.fx.Tracer.trace  # every trace initlab makes goes through it
    active, most = [0], [0]
    lock = threading.Lock()

    def slow_trace(self, root, *a, **k):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.02)
            return real(self, root, *a, **k)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(torch.fx.Tracer, "trace", slow_trace)
    before = (torch.nn.Module.__call__, torch.nn.Module.__getattr__)
    errors = []

    def go(k):
        try:
            Fake().run(tmp_path / f"s{k}", config={**GRID, "depth": [2, 3, 4, 5]})
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and most[0] == 1
    assert (torch.nn.Module.__call__, torch.nn.Module.__getattr__) == before
