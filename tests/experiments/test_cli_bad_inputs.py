"""Bad input to `initlab sweep`, `experiment`, `report` and `demo`, as one table: each case is the
command line, a fragment of the one-line message it must print, and the check that nothing was lost
(an existing run directory or report left byte for byte as it was, no temporary file left behind,
no directory made for a command that failed). Every case exits non-zero without a traceback, and
fails before any work starts."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from initlab.cli import main

TINY = ["--depth", "1", "--width", "4", "--epochs", "1", "--batch-size", "512", "--no-progress", "--threads", "1"]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the hash of its bytes."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished sweep (with its report), a plain file, a non-UTF-8 config and other props."""
    root = tmp_path_factory.mktemp("bad-inputs")
    run = root / "run"
    res = CliRunner().invoke(main, ["sweep", "--scheme", "he_normal", "--scheme", "lecun_normal", *TINY,
                                    "--out", str(run)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert CliRunner().invoke(main, ["report", str(run)]).exit_code == 0
    (root / "file.txt").write_text("a plain file\n")
    (root / "latin1.toml").write_bytes("scheme = \"he_normal\"  # caf\xe9\n".encode("latin-1"))
    (root / "folder.toml").mkdir()
    (root / "grid.toml").write_text('scheme = ["he_normal"]\ndepth = 1\nwidth = 4\nepochs = 1\n')
    return root


def _copy_run(world: Path, tmp_path: Path, edit=None) -> Path:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(world / "run", run)
    if edit is not None:
        edit(run)
    return run


def _results(run: Path) -> Path:
    return run / "results.csv"


# each case: (id, argv builder (world, tmp) -> list, expected fragment, paths that must not change or appear)
CASES = [
    # ---- sweep
    ("sweep: a bad scheme parameter", lambda w, t: ["sweep", "--scheme", "random_normal(std=-1)", *TINY, "--out",
                                                    str(t / "new")], "std: got -1", ["new"]),
    ("sweep: a misspelt scheme", lambda w, t: ["sweep", "--scheme", "kaiming_normall", *TINY, "--out", str(t / "new")],
     "did you mean 'kaiming_normal'", ["new"]),
    ("sweep: --out is a file", lambda w, t: ["sweep", *TINY, "--out", str(w / "file.txt")],
     "this path is an existing file", []),
    ("sweep: --out under a file", lambda w, t: ["sweep", *TINY, "--out", str(w / "file.txt" / "x")],
     "Not a directory [ENOTDIR]", []),
    ("sweep: --out in /proc", lambda w, t: ["sweep", *TINY, "--out", "/proc/initlab-never"], "creating it failed", []),
    ("sweep: a config that is not UTF-8", lambda w, t: ["sweep", str(w / "latin1.toml"), "--out", str(t / "new")],
     "a UTF-8 text file (byte 0xe9", ["new"]),
    ("sweep: a config that is a folder", lambda w, t: ["sweep", str(w / "folder.toml"), "--out", str(t / "new")],
     "this path is a folder", ["new"]),
    ("sweep: a missing config", lambda w, t: ["sweep", str(t / "none.toml"), "--out", str(t / "new")],
     "no such file", ["new"]),
    ("sweep: another config in a run directory", lambda w, t: ["sweep", *TINY, "--seed", "3", "--out",
                                                               str(_copy_run(w, t))], "different config", ["run"]),
    ("sweep: a corrupt config.json", lambda w, t: ["sweep", *TINY, "--out", str(_copy_run(
        w, t, lambda r: (r / "config.json").write_text('{"sweep": [')))], "is not JSON (line 1", ["run"]),
    ("sweep: --threads 0", lambda w, t: ["sweep", *TINY[:-2], "--threads", "0", "--out", str(t / "new")],
     "threads: got 0", ["new"]),
    # ---- report
    ("report: no such folder", lambda w, t: ["report", str(t / "none")], "no such folder", []),
    ("report: not a run directory", lambda w, t: ["report", str(t)], "has no config.json", []),
    ("report: config.json is not JSON", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: (r / "config.json").write_text("{oops")))], "config.json: got", ["run"]),
    ("report: config.json is someone else's", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: (r / "config.json").write_text('{"name": "my-app", "version": 3}')))],
     "has no 'sweep' table", ["run"]),
    ("report: config.json is not UTF-8", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: (r / "config.json").write_bytes(b"\xff\xfe{}")))], "byte 0xff at offset 0", ["run"]),
    ("report: no results.csv yet", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: _results(r).unlink()))], "none yet", ["run"]),
    ("report: results.csv is someone else's", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: _results(r).write_text("a,b\n1,2\n")))], "it has no column 'run_id'", ["run"]),
    ("report: a word where a number belongs", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: _results(r).write_text(_results(r).read_text().replace(",False\n", ",False\n", 1)
                                               .replace("0.1", "zero point one", 1))))],
     "a number in column", ["run"]),
    ("report: a ragged row", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: _results(r).write_text(_results(r).read_text() + "x,y\n")))], "every row has", ["run"]),
    ("report: another sweep's results", lambda w, t: ["report", str(_copy_run(
        w, t, lambda r: _results(r).write_text(_results(r).read_text().replace("he_normal", "orthogonal"))))],
     "config does not describe", ["run"]),
    ("report: --out under a file", lambda w, t: ["report", str(w / "run"), "--out", str(w / "file.txt" / "r")],
     "Not a directory [ENOTDIR]", []),
    # ---- experiment
    ("experiment: unknown name", lambda w, t: ["experiment", "symetry"], "did you mean 'symmetry'", []),
    ("experiment: --out is a folder", lambda w, t: ["experiment", "symmetry", "--quick", "--out", str(t)],
     "this path is a folder", []),
    ("experiment: --out in /proc", lambda w, t: ["experiment", "symmetry", "--quick", "--out", "/proc/x.json"],
     "failed", []),
    ("experiment: a negative seed", lambda w, t: ["experiment", "symmetry", "--quick", "--seed", "-1"],
     "seed: got -1", []),
    # ---- demo
    ("demo: --out in /proc", lambda w, t: ["demo", "--budget", "quick", "--out", "/proc/initlab-demo"],
     "creating it failed", []),
    ("demo: --out is a file", lambda w, t: ["demo", "--budget", "quick", "--out", str(w / "file.txt")],
     "this path is an existing file", []),
    ("demo: an unknown preset", lambda w, t: ["demo", "--preset", "symetry", "--out", str(t / "demo")],
     "did you mean 'symmetry'", ["demo"]),
    ("demo: a negative seed", lambda w, t: ["demo", "--seed", "-2", "--out", str(t / "demo")], "seed: got -2",
     ["demo"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_loses_nothing(world, tmp_path, monkeypatch, case):
    _, argv, fragment, watched = case
    from initlab.experiments import presets

    def no_work(*a, **k):  # the checks come before any experiment runs
        raise AssertionError("an experiment ran before the input was checked")

    monkeypatch.setattr(presets, "run_preset", no_work)
    before_world = _snapshot(world)
    args = argv(world, tmp_path)
    before = {w: _snapshot(tmp_path / w) for w in watched}
    existed = {w: (tmp_path / w).exists() for w in watched}
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _snapshot(world) == before_world
    for w in watched:
        if existed[w]:
            assert _snapshot(tmp_path / w) == before[w], w
        else:
            assert not (tmp_path / w).exists(), w
    leftovers = [p for p in list(world.rglob(".*.tmp")) + list(tmp_path.rglob(".*.tmp"))]
    assert not leftovers


# ------------------------------------------------------------------------------ the disk fills up


def _enospc_after(n_bytes: int):
    def write(fh, payload):
        fh.write(payload[:n_bytes])  # part of it reaches the disk, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return write


def test_a_full_disk_while_writing_a_report_keeps_the_old_one(world, tmp_path, monkeypatch):
    from initlab.experiments import files

    run = _copy_run(world, tmp_path)
    before = _snapshot(run)
    monkeypatch.setattr(files, "_write_all", _enospc_after(100))
    result = CliRunner().invoke(main, ["report", str(run)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    line = result.output.strip()
    assert "\n" not in line and "No space left on device [ENOSPC]" in line and str(run / "report") in line
    assert _snapshot(run) == before  # the old report, figures and tables are as they were
    assert not list(run.rglob(".*.tmp"))


def test_a_full_disk_during_a_sweep_keeps_every_finished_run(world, tmp_path, monkeypatch):
    from initlab.experiments import files

    run = tmp_path / "s"
    args = ["sweep", "--scheme", "he_normal", "--seed", "0", "--seed", "1", "--seed", "2", *TINY[:-2],
            "--no-batch", "--out", str(run)]
    real = files._write_all
    writes = []

    def fill_up(fh, payload):  # config.json and two run files fit; the third does not
        writes.append(fh.name)
        if len(writes) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fh, payload)

    monkeypatch.setattr(files, "_write_all", fill_up)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert len(list((run / "runs").glob("*.json"))) == 2 and not list(run.rglob(".*.tmp"))
    monkeypatch.setattr(files, "_write_all", real)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "trained 1, reused 2" in again.output


@pytest.mark.slow
def test_a_file_size_limit_in_a_real_process_is_one_line(world, tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG) as a full disk would."""
    resource = pytest.importorskip("resource")
    run = _copy_run(world, tmp_path)
    before = _snapshot(run)
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
            "from initlab.cli import main; sys.argv = ['initlab', 'report', sys.argv[1]]; main()")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "File too large [EFBIG]" in proc.stderr
    assert _snapshot(run) == before and not list(run.rglob(".*.tmp"))


# ------------------------------------------------------------------------------ permissions


def test_no_permission_is_one_line(world, tmp_path, monkeypatch):
    """Root may write anywhere, so the refusal is simulated where the library meets the OS."""
    real_open = open

    def deny(path, *a, **k):
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *a, **k)

    (tmp_path / "locked").mkdir()
    monkeypatch.setattr("builtins.open", deny)
    for args in (["report", str(world / "run"), "--out", str(tmp_path / "locked")],
                 ["sweep", *TINY, "--out", str(tmp_path / "locked" / "s")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "Permission denied [EACCES]" in result.output and len(result.output.strip().splitlines()) == 1
    assert not any((tmp_path / "locked").rglob("*.json"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_folder_is_one_line(world, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        result = CliRunner().invoke(main, ["report", str(world / "run"), "--out", str(ro)])
        assert result.exit_code == 1 and "Permission denied" in result.output
    finally:
        ro.chmod(0o700)


def test_a_report_of_a_partial_sweep_warns_on_the_terminal_and_the_page(world, tmp_path):
    def cut(r: Path):
        lines = _results(r).read_text().splitlines(keepends=True)
        _results(r).write_text("".join(lines[:-1]))  # the last run's last epoch is missing

    run = _copy_run(world, tmp_path, cut)
    result = CliRunner().invoke(main, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert "warning: 1 run(s) stop before their last epoch" in result.stderr and "epochs 0 of 0–1" in result.stderr
    page = (run / "report" / "report.html").read_text()
    assert "Warning:" in page and "epochs 0 of 0–1" in page and "1 of 2 runs complete" in page
    assert json.loads((run / "config.json").read_text())["sweep"]["epochs"] == 1
