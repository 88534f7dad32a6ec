"""The built book as a reader meets it, in headless Chromium with the network cut off.

Serves book/_build/html on localhost, blocks every request to any other host, and checks each
page: no console errors, every equation typeset by the bundled MathJax, every image loaded; then
the synced framework tabs, the search page and a chapter's notebook download. Screenshots of a
few pages go to book/_build/screenshots for whoever reads the test log.

Needs the built book (`make book`) and Debian's chromium; run with `pytest -m book`
(`make browser`). The rest of the suite deselects these tests.
"""

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

pytestmark = pytest.mark.book

HTML = Path(__file__).resolve().parents[1] / "book" / "_build" / "html"
SHOTS = HTML.parent / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = sorted(
    str(p.relative_to(HTML))
    for p in HTML.glob("**/*.html")
    if not p.name.startswith("_")
    if "_static" not in p.parts and "_sources" not in p.parts
)


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page whose requests outside localhost are blocked (and recorded), with its errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.blocked, page.errors = [], []

    def route(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def _redirect_target(page, url):
    """Where a meta-refresh page (Jupyter Book's root index.html) sends the reader, or None."""
    html = page.request.get(url).text()
    match = re.search(r'<meta[^>]*http-equiv="refresh"[^>]*content="[^"]*url=([^"]+)"', html, re.I)
    return urljoin(url, match.group(1).strip()) if match else None


def _open(page, url):
    # A redirect page navigates again after its load event: a check run then would race the
    # next page's scripts (seen in CI: MathJax's config object present, its startup not yet).
    # Open the page it redirects to instead, once we know that page exists.
    target = _redirect_target(page, url)
    if target is not None:
        assert page.request.get(target).ok, f"{url} redirects to a missing page: {target}"
        url = target
    page.goto(url, wait_until="load")
    # MathJax 3 typesets after load; its startup promise resolves when the page is done
    page.wait_for_function(
        "!window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)"
    )
    page.evaluate("window.MathJax && window.MathJax.startup.promise")


def test_the_book_has_its_pages():
    assert "index.html" in PAGES and "search.html" in PAGES
    assert any(p.startswith("notebooks/") for p in PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline(server, page, name):
    _open(page, f"{server}/{name}")
    assert page.blocked == [], f"requests outside localhost: {page.blocked}"
    assert page.errors == [], f"console errors: {page.errors}"
    untypeset = page.evaluate(
        "[...document.querySelectorAll('.math')]"
        ".filter(e => !e.querySelector('mjx-container')).length"
    )
    assert untypeset == 0, f"{untypeset} equations not typeset by MathJax"
    text = page.inner_text("article") if page.query_selector("article") else ""
    assert "$$" not in text and "\\begin{" not in text, "raw TeX left in the page"
    # TensorFlow's start-up log lines, when something imports it (or Keras) before xent does
    assert "absl::InitializeLog" not in text and "oneDNN custom operations" not in text, (
        "TensorFlow log lines in the page: import xent.tensorflow before tensorflow and keras"
    )
    broken = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == [], f"images that did not load: {broken}"
    if name.startswith("notebooks/") or name == "index.html":
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / (name.replace("/", "_") + ".png")))


def test_framework_tabs_switch_together(server, page):
    _open(page, f"{server}/notebooks/01_information.html")
    labels = page.locator(".sd-tab-set > label", has_text="PyTorch")
    assert labels.count() >= 2, "the chapter should have several synced tab-sets"
    labels.first.click()
    selected = page.evaluate(
        """[...document.querySelectorAll('.sd-tab-set')].map(set => {
               const checked = set.querySelector(':scope > input:checked');
               return checked ? set.querySelector(`label[for="${checked.id}"]`).innerText : null;
           })"""
    )
    with_torch = [s for s in selected if s is not None]
    assert with_torch and all(s.strip() == "PyTorch" for s in with_torch), selected


def test_search_finds_a_term(server, page):
    _open(page, f"{server}/search.html?q=entropy")
    page.wait_for_selector("#search-results li", timeout=20_000)
    assert page.locator("#search-results li").count() > 0
    assert page.errors == [] and page.blocked == []


@pytest.mark.parametrize("name", [p for p in PAGES if p.startswith("notebooks/")])
def test_chapter_download_is_the_executed_notebook(server, page, name):
    _open(page, f"{server}/{name}")
    link = page.locator("a[href$='.ipynb']").first
    href = link.get_attribute("href")
    response = page.request.get(f"{server}/{Path(name).parent}/{href}")
    assert response.ok, href
    notebook = json.loads(response.body())
    outputs = sum(len(c.get("outputs", [])) for c in notebook["cells"] if c["cell_type"] == "code")
    assert outputs > 0, "the downloaded notebook has no outputs: it is not the executed one"
