"""How the tests build the documentation site: as ``scripts/docs`` does (Sphinx, warnings as errors), into a
temporary folder; the ``site`` fixture (tests/docs/conftest.py) builds it once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def build_site(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-E",
           "-d", str(out / ".doctrees"), *extra, str(DOCS), str(out / "site")]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
