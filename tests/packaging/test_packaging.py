"""Packaging: ``python -m build`` makes an sdist and a wheel; the wheel holds every file of the package
(package data included) and the licence; the version has one home; and the wheel, installed into a fresh
virtual environment outside the source tree, runs ``initlab list`` and ``initlab demo --budget quick``."""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import initlab

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "initlab"


def _package_files() -> list[str]:
    """Every file of the package in the checkout (tracked by git when it is a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "src/initlab"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
        files = [f for f in out.split("\0") if f and (ROOT / f).exists()]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*") if p.is_file()]
    return sorted(f[len("src/"):] for f in files if "__pycache__" not in f and not f.endswith(".pyc"))


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("build", reason="the build extra is part of the dev extras")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0], "log": result.stdout + result.stderr}


@pytest.mark.slow
def test_build_makes_an_sdist_and_a_wheel_named_by_the_version(dist):
    v = initlab.__version__
    assert dist["wheel"].name == f"initlab-{v}-py3-none-any.whl"
    assert dist["sdist"].name == f"initlab-{v}.tar.gz"
    assert "deprecated" not in dist["log"].lower(), "the build warns about a deprecated setting"


@pytest.mark.slow
def test_wheel_holds_every_package_file_and_the_licence(dist):
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    missing = [f for f in _package_files() if f not in names]
    assert not missing, f"files of the package missing from the wheel: {missing}"
    non_python = [f for f in _package_files() if not f.endswith(".py")]
    assert all(f in names for f in non_python)  # package data (report assets, static files) travels too
    info = f"initlab-{initlab.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    meta = email.parser.Parser().parsestr(zipfile.ZipFile(dist["wheel"]).read(f"{info}/METADATA").decode())
    assert meta["Version"] == initlab.__version__
    assert meta["License-Expression"] == "MIT"
    assert "initlab = initlab.cli:main" in zipfile.ZipFile(dist["wheel"]).read(f"{info}/entry_points.txt").decode()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "docs/"))]


@pytest.mark.slow
def test_sdist_holds_the_sources_licence_and_changelog(dist):
    top = f"initlab-{initlab.__version__}"
    with tarfile.open(dist["sdist"]) as tar:
        names = set(tar.getnames())
    for f in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "constraints.txt"):
        assert f"{top}/{f}" in names, f"{f} missing from the sdist"
    missing = [f for f in _package_files() if f"{top}/src/{f}" not in names]
    assert not missing, missing


def test_the_version_has_one_home():
    """initlab.__version__ is the only place the version is written: pyproject reads it, nothing restates it."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "initlab.__version__"}
    v = initlab.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", v)
    restated = [str(p.relative_to(ROOT)) for p in [*PACKAGE.rglob("*.py"), *(ROOT / "docs").rglob("*.py"),
                                                   *(ROOT / "scripts").iterdir()]
                if p.is_file() and p != PACKAGE / "__init__.py" and f'"{v}"' in p.read_text(errors="replace")]
    assert not restated, f"the version is written again in {restated}"
    assert f"## {v}" in (ROOT / "CHANGELOG.md").read_text(), "CHANGELOG.md has no section for this version"


def test_licence_is_mit_for_initlab_contributors():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "initlab contributors" in text
    assert "Permission is hereby granted, free of charge" in text
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(), re.M)


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
                                                            "PYTHONSTARTUP", "PYTHONSAFEPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs(dist, tmp_path):
    """A fresh virtual environment (no system site-packages; pip from this environment, with pip's cache and
    the pinned CPU torch), the wheel with its ``experiments`` extra, and the CLI run from a folder outside the
    checkout: ``initlab list`` and ``initlab demo --budget quick``."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-compile",
         "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"), f"{dist['wheel']}[experiments]"],
        capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(venv)

    def run(*args, timeout=600):
        r = subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r.stdout

    where = run(str(py), "-c", "import initlab, sys; print(initlab.__file__); print(initlab.__version__)")
    location, version = where.split()
    assert Path(location).resolve().is_relative_to(venv.resolve()), f"initlab imported from {location}"
    assert version == initlab.__version__
    assert initlab.__version__ in run(str(venv / "bin" / "initlab"), "--version")
    listing = run(str(venv / "bin" / "initlab"), "list", "--json")
    import json

    assert [r["name"] for r in json.loads(listing)] == [r["name"] for r in initlab.list_schemes()]
    run(str(venv / "bin" / "initlab"), "list")
    run(str(venv / "bin" / "initlab"), "demo", "--budget", "quick", "--out", "report", timeout=900)
    report = work / "report" / "report.html"
    assert report.exists() and report.stat().st_size > 50_000
    assert len(list((work / "report").glob("*.png"))) >= 3
