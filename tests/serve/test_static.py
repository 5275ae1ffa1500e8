"""The page's files: in the package, nothing fetched from another host, the chart library at its
pinned version with its licence."""

import hashlib
import re
from pathlib import Path

from initlab.serve.app import STATIC

VENDOR = STATIC / "vendor" / "uplot"


def test_vendored_chart_library_is_the_pinned_release():
    version = (VENDOR / "VERSION").read_text()
    assert "uPlot 1.6.32" in version and "npm pack uplot@1.6.32" in version
    pinned = dict(reversed(line.split()) for line in version.splitlines() if re.fullmatch(r"[0-9a-f]{64}  \S+", line))
    assert set(pinned) == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    for name, digest in pinned.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "The MIT License" in (VENDOR / "LICENSE").read_text()


def test_page_loads_nothing_from_another_host():
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), name
        assert "@import" not in text and "import(" not in text, name
        assert not re.search(r"fetch\(\s*[\"']https?:", text), name
    html = (STATIC / "index.html").read_text()
    assert re.findall(r'src="([^"]+)"', html) == ["/static/vendor/uplot/uPlot.iife.min.js", "/static/app.js"]


def test_static_files_ship_with_the_package():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())
    package = root / "src" / "initlab"
    patterns = data["tool"]["setuptools"]["package-data"]["initlab"]
    shipped = {p for pat in patterns for p in package.glob(pat) if p.is_file()}
    assert {p for p in STATIC.rglob("*") if p.is_file()} <= shipped
    extras = data["project"]["optional-dependencies"]
    assert any(d.startswith("uvicorn==") for d in extras["serve"]) and any(d.startswith("starlette==") for d in extras["serve"])
    assert "serve" in extras["dev"][0]
