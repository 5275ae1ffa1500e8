"""The documentation site in a real browser (headless Chromium through Playwright): every internal link
leads to a page that exists (and to an anchor on it that exists), no page requests anything from outside
the site, every image loads, and the search finds ``he_normal`` — served from a local server and opened
from ``file://``."""

from __future__ import annotations

import functools
import http.server
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from browser import chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(site):
    """The built site on 127.0.0.1 (a free port), stopped after the tests."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Watch:
    """Record every request of a page: outside ``base`` → aborted and kept as external; failed → kept."""

    def __init__(self, page, base: str):
        self.base, self.external, self.failed = base, [], []
        page.route("**/*", self._route)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.on("requestfailed", lambda r: not r.url.startswith(("data:", "about:")) and
                r.url.startswith(self.base) and self.failed.append(f"failed {r.url}"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("data:", "about:", "blob:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


def _page_links_and_ids(page) -> tuple[list[str], set[str], list[str]]:
    return page.evaluate("""() => [
        Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
        Array.from(document.querySelectorAll('[id]')).map(e => e.id),
        Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)]""")


def crawl(browser, base: str, start: str = "index.html") -> dict:
    """Visit every page reachable from ``start`` through internal links; return what was found."""
    page = browser.new_page()
    watch = _Watch(page, base)
    queue, seen, ids, links, broken_images, missing = deque([urljoin(base, start)]), set(), {}, [], [], []
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        if url.startswith("file:") and not Path(urlparse(url).path).exists():
            missing.append(url)
            continue
        response = page.goto(url, wait_until="load")
        if url.startswith("http") and (response is None or not response.ok):
            missing.append(url)
            continue
        hrefs, page_ids, bad_imgs = _page_links_and_ids(page)
        ids[url] = set(page_ids)
        broken_images += [f"{url}: {src}" for src in bad_imgs]
        for href in hrefs:
            target, fragment = urldefrag(href)
            if not target.startswith(base):
                continue  # an external link: a link, not an asset; it is not followed
            links.append((url, target, fragment))
            if target.endswith(".html") and target not in seen:
                queue.append(target)
    page.close()
    return {"pages": seen - set(missing), "missing": missing, "ids": ids, "links": links, "external": watch.external, "failed": watch.failed,
            "broken_images": broken_images}


@pytest.fixture(scope="module")
def crawled(browser, server):
    return crawl(browser, server)


def test_every_page_is_reached_and_no_internal_link_is_broken(crawled, site):
    pages = {urlparse(p).path.lstrip("/") for p in crawled["pages"]}
    built = {str(p.relative_to(site)) for p in site.rglob("*.html")}
    unreached = sorted(built - pages - {"genindex.html", "search.html", "py-modindex.html"})
    assert not unreached, f"pages no link leads to: {unreached}"
    broken = [f"{src} -> {t}" for src, t, _ in crawled["links"] if t in crawled["missing"]]
    missing_files = [f"{src} -> {t}" for src, t, _ in crawled["links"]
                     if not t.endswith(".html") and not (site / urlparse(t).path.lstrip("/")).exists()
                     and not t.endswith("/")]
    bad_anchors = [f"{src} -> {t}#{frag}" for src, t, frag in crawled["links"]
                   if frag and t in crawled["ids"] and frag not in crawled["ids"][t]]
    assert not broken and not missing_files and not bad_anchors, (broken, missing_files, bad_anchors)
    assert not crawled["failed"], f"requests that failed: {crawled['failed'][:20]}"
    assert not crawled["broken_images"], f"images that did not load: {crawled['broken_images'][:20]}"
    assert len(crawled["pages"]) >= 30


def test_no_page_requests_anything_outside_the_site(crawled):
    assert not crawled["external"], f"external requests: {sorted(set(crawled['external']))[:20]}"


def _search(browser, base: str, query: str) -> list[str]:
    page = browser.new_page()
    watch = _Watch(page, base)
    page.goto(urljoin(base, f"search.html?q={query}"), wait_until="load")
    page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    page.close()
    assert not watch.external, f"the search requested {watch.external}"
    return hrefs


def test_search_finds_he_normal(browser, server):
    hrefs = _search(browser, server, "he_normal")
    assert any(h.split("#")[0].endswith("_generated/schemes/he_normal.html") for h in hrefs), hrefs[:10]


def test_search_works_from_file_without_a_server(browser, site):
    hrefs = _search(browser, site.as_uri() + "/", "he_normal")
    assert any("schemes/he_normal.html" in h for h in hrefs), hrefs[:10]


def test_the_crawler_notices_a_broken_link_and_an_external_asset(browser, tmp_path):
    """The checks above must be able to fail: a page with a dead link and a remote script."""
    (tmp_path / "index.html").write_text(
        '<html><body><a href="missing.html">dead</a><a href="index.html#nowhere">x</a>'
        '<script src="https://cdn.example.invalid/x.js"></script></body></html>')
    result = crawl(browser, tmp_path.as_uri() + "/")
    assert result["external"] == ["https://cdn.example.invalid/x.js"]
    assert [m.rsplit("/", 1)[-1] for m in result["missing"]] == ["missing.html"]
    assert any(frag == "nowhere" and "nowhere" not in result["ids"][t] for _, t, frag in result["links"]
               if t in result["ids"])
