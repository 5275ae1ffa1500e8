"""The documentation site, built once per test session (see docs_site.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docs_site import build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx, furo, MyST) is part of the dev extras")
    out = tmp_path_factory.mktemp("docs")
    result = build_site(out)
    assert result.returncode == 0, f"the site did not build cleanly:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    return out / "site"
