"""Headless Chromium for the browser tests, written once: Debian's ``chromium`` driven by Playwright for
Python (Playwright's own browser download is not reachable, so the system binary is launched). Without
Chromium or Playwright a test skips and says how to get them."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator

import pytest

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@contextlib.contextmanager
def chromium() -> Iterator:
    """A launched Playwright ``Browser`` on the system Chromium, closed on exit; skips the test without one."""
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium on this machine: install Debian's `chromium` package, or run the test set-up "
                    "with INITLAB_INSTALL_BROWSER=1 as root (CI does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extras")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
