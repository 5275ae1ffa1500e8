"""The documentation site, built once per test session exactly as ``scripts/docs`` builds it
(Sphinx, warnings as errors), into a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def build_site(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-E",
           "-d", str(out / ".doctrees"), *extra, str(DOCS), str(out / "site")]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx, furo, MyST) is part of the dev extras")
    out = tmp_path_factory.mktemp("docs")
    result = build_site(out)
    assert result.returncode == 0, f"the site did not build cleanly:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    return out / "site"
