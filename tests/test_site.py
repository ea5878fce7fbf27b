"""The published site, opened in headless Chromium.

`make test` builds the book (`make book`) before the tests run; these tests read the
result in _build/html. They serve it on 127.0.0.1 and check that every page of the table
of contents loads without console errors, that MathJax typesets its math, that nothing
is requested from any other host (such requests are recorded and aborted), that search
works offline, that the launch buttons point to Binder and Colab, and that exercises
render with their solutions collapsed. Every page also passes an accessibility check:
axe-core (installed from npm with MathJax) is injected into the page, in light and in
dark mode, and must find no serious or critical violation of WCAG 2.1 A/AA; every image
of every built page has a text alternative.
"""
from __future__ import annotations

import functools
import http.server
import json
import re
import threading
import unicodedata
import urllib.parse
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
LOCAL_HOSTS = {"127.0.0.1"}
LOCAL_SCHEMES = {"data", "blob", "about"}

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]                       # https://github.com/owner/name
REPO = urllib.parse.urlparse(REPO_URL).path.strip("/")          # owner/name
BRANCH = CONFIG["repository"]["branch"]

# A word that chapter 1 uses, and so must be found by the offline search.
SEARCH_WORD, SEARCH_PAGE = "perceptron", "chapters/01_neurons"


def toc_docnames() -> list[str]:
    """Every page listed in _toc.yml, root first, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(str(Path(entry["file"]).with_suffix("")))
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return names


PAGES = toc_docnames()
CHAPTERS = [name for name in PAGES if name.startswith("chapters/")]


def is_local(url: str) -> bool:
    parts = urllib.parse.urlparse(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def site() -> str:
    """Serve _build/html on a free port of 127.0.0.1; yield the base URL."""
    if not (HTML / "index.html").is_file():
        pytest.fail(f"the site is not built: {HTML / 'index.html'} is missing. "
                    "Run `make book` first (`make test` does it for you).")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the whole module."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package `chromium`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """A fresh browser context that records console errors and every request,
    and aborts any request that would leave the machine."""

    def __init__(self, browser):
        self.context = browser.new_context(service_workers="block")
        self.requests: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _route(self, route):
        if is_local(route.request.url):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location.get('url')})")

    def goto(self, url: str, wait_until: str = "load"):
        response = self.page.goto(url, wait_until=wait_until)
        assert response is not None, f"no response for {url}"
        return response

    def assert_clean(self):
        external = sorted(set(self.external) | {u for u in self.requests if not is_local(u)})
        assert not external, f"requests to other hosts: {external}"
        assert not self.errors, "\n".join(self.errors)


@pytest.fixture
def visit(browser, site):
    v = Visit(browser)
    yield v
    v.context.close()


def typeset(page) -> dict:
    """Wait for MathJax to finish; count the math elements and what MathJax made of them."""
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    return page.evaluate("""() => MathJax.startup.promise.then(() => ({
        math: document.querySelectorAll('.math').length,
        typeset: document.querySelectorAll('.math mjx-container').length,
        errors: Array.from(document.querySelectorAll('mjx-merror'),
                           e => e.getAttribute('data-mjx-error') || e.textContent),
    }))""")


# --------------------------------------------------------------------------- tests

def test_site_is_built():
    assert (HTML / "index.html").is_file(), (
        f"{HTML / 'index.html'} is missing: run `make book` first (`make test` does it).")


def test_toc_lists_chapter_one():
    assert SEARCH_PAGE in CHAPTERS, f"_toc.yml lists no {SEARCH_PAGE}: {PAGES}"


@pytest.mark.parametrize("docname", ["index", *PAGES])
def test_page_loads_offline_and_typesets_math(visit, site, docname):
    response = visit.goto(site + docname + ".html")
    assert response.status == 200, f"{docname}: HTTP {response.status}"
    if visit.page.locator(".math").count():
        counts = typeset(visit.page)
        assert counts["typeset"] >= counts["math"] > 0, f"{docname}: MathJax did not typeset all math: {counts}"
        assert not counts["errors"], f"{docname}: TeX errors: {counts['errors']}"
    visit.assert_clean()


def test_search_works_offline(visit, site):
    visit.goto(site + "search.html?q=" + SEARCH_WORD)
    visit.page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
    hrefs = visit.page.eval_on_selector_all(
        "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))")
    assert any(SEARCH_PAGE in href for href in hrefs), f"'{SEARCH_WORD}' not found in {SEARCH_PAGE}: {hrefs}"
    visit.assert_clean()


@pytest.mark.parametrize("docname", CHAPTERS)
def test_launch_buttons(visit, site, docname):
    visit.goto(site + docname + ".html", wait_until="domcontentloaded")   # links are static
    hrefs = visit.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    binder = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=tree/{docname}.ipynb"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{docname}.ipynb"
    assert binder in hrefs, f"no Binder link {binder}: {[h for h in hrefs if 'binder' in h]}"
    assert colab in hrefs, f"no Colab link {colab}: {[h for h in hrefs if 'colab' in h]}"
    assert REPO_URL in hrefs, "no link to the repository"
    visit.assert_clean()


def test_exercises_render_with_collapsed_solutions(visit, site):
    visit.goto(site + SEARCH_PAGE + ".html")
    page = visit.page
    exercises = page.locator("div.exercise.admonition")
    solutions = page.locator("div.solution.dropdown")
    assert exercises.count() >= 1, "no sphinx-exercise box on chapter 1"
    assert solutions.count() >= 1, "no solution dropdown on chapter 1"
    # Numbered per chapter (the toc is numbered; book/_ext/cnnbook_site.py hides the
    # section numbers): Exercise 1.1, 1.2, ...
    chapter = int(Path(SEARCH_PAGE).name.split("_")[0])
    titles = exercises.locator(".admonition-title").all_inner_texts()
    assert all(re.match(rf"Exercise {chapter}\.\d+", t.strip()) for t in titles), titles
    assert not page.locator(".section-number").count(), "section numbers are shown"
    for i in range(solutions.count()):
        body = solutions.nth(i).locator("section").first
        assert body.is_hidden(), f"solution {i + 1} is not collapsed"
    # The reader opens a solution with the arrow button in its title.
    first = solutions.first
    first.locator("button.toggle-button").click()
    first.locator("section").first.wait_for(state="visible", timeout=5_000)
    assert "### BEGIN SOLUTION" in first.inner_text()
    visit.assert_clean()


# Attributes through which a page would fetch something.
FETCHING = re.compile(r"<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=\"([^\"]+)\""
                      r"|<link\b[^>]*\bhref=\"([^\"]+)\"[^>]*>")
LINK_REL = re.compile(r"\brel=\"([^\"]+)\"")


def test_built_html_names_no_other_host():
    """Every built page, including those no test visits: nothing fetched from elsewhere,
    no analytics, and one MathJax script (all of MathJax on a page would mean the
    static-path pitfall described in _config.yml)."""
    assert (HTML / "index.html").is_file(), "run `make book` first"
    problems = []
    for path in sorted(HTML.rglob("*.html")):
        if "_static" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(HTML)
        for match in FETCHING.finditer(text):
            url = match.group(1) or match.group(2)
            if match.group(2):
                rel = LINK_REL.search(match.group(0))
                if rel and not set(rel.group(1).split()) & {"stylesheet", "preload", "icon",
                                                             "modulepreload", "prefetch"}:
                    continue                             # navigation links are fine
            if urllib.parse.urlparse(url).scheme in {"http", "https"} or url.startswith("//"):
                problems.append(f"{name}: fetches {url}")
        for word in ("googletagmanager", "google-analytics", "plausible.io"):
            if word in text:
                problems.append(f"{name}: mentions {word}")
        mathjax = re.findall(r"<script[^>]*src=\"[^\"]*_static/mathjax/[^\"]*\"", text)
        if len(mathjax) > 1:
            problems.append(f"{name}: {len(mathjax)} MathJax scripts")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- accessibility

AXE_RUN = """() => axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
}).then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.impact} ${v.id} (${v.help}): ` +
              v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.html.slice(0, 120))
                     .join(' | ')))"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("docname", PAGES)   # index.html only redirects to the first page
def test_page_is_accessible(browser, site, docname, scheme):
    """axe-core finds no serious or critical WCAG 2.1 A/AA issue, in either colour mode."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (`make book` does it).")
    context = browser.new_context(service_workers="block", color_scheme=scheme)
    context.route("**/*", lambda route: route.continue_() if is_local(route.request.url)
                  else route.abort())
    try:
        page = context.new_page()
        page.goto(site + docname + ".html", wait_until="load")
        if page.locator(".math").count():
            typeset(page)                      # check the page as a reader sees it
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(AXE_RUN)
    finally:
        context.close()
    assert not violations, f"{docname} ({scheme} mode):\n" + "\n".join(violations)


IMG = re.compile(r"<img\b[^>]*>")


def test_every_image_has_alt_text():
    """Every <img> of every built page (chapter figures included) has an alt that
    describes it (not empty, not the file's name): a figure cell carries it in its
    metadata, {"mystnb": {"image": {"alt": "..."}}}."""
    assert (HTML / "index.html").is_file(), "run `make book` first"
    missing = []
    for path in sorted(HTML.rglob("*.html")):
        if "_static" in path.parts:
            continue
        for tag in IMG.findall(path.read_text(encoding="utf-8")):
            alt = re.search(r'\balt="([^"]*)"', tag)
            # Sphinx fills a missing alt with the image's path: that is no description
            if not alt or not alt.group(1).strip() or re.search(
                    r"\.(png|jpe?g|svg|gif)$", alt.group(1).strip(), re.I):
                missing.append(f"{path.relative_to(HTML)}: {tag[:100]}")
    assert not missing, f"{len(missing)} images without alt text:\n" + "\n".join(missing[:40])


# --------------------------------------------------------------------------- the PDF

PDF = HTML / "cnn-book.pdf"


def chapter_titles() -> list[str]:
    """Each chapter's title, from the first heading of its notebook."""
    titles = []
    for docname in CHAPTERS:
        cells = json.loads((ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))["cells"]
        first = "".join(cells[0]["source"]).splitlines()[0]
        titles.append(first.lstrip("# ").strip())
    return titles


def squeeze(text: str) -> str:
    """Without spaces, and with the PDF's ligatures (fi, fl) as plain letters."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def test_the_pdf_holds_every_chapter_and_typeset_math():
    """`make pdf` printed the book and `make book` put it on the site, linked from the
    introduction; read back, it has every chapter's title, bookmarks, and equations
    typeset (no TeX source left on its pages)."""
    import pypdf

    assert PDF.is_file(), f"{PDF} is missing: run `make pdf book` (`make test` does it)."
    assert 'href="../cnn-book.pdf"' in (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    reader = pypdf.PdfReader(PDF)
    assert len(reader.pages) > 50 * len(CHAPTERS) // 2, f"only {len(reader.pages)} pages"
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    flat = squeeze(text)
    missing = [t for t in chapter_titles() if squeeze(t) not in flat]
    assert not missing, f"chapter titles not found in the PDF: {missing}"
    outline = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                outline.append(item.title)

    walk(reader.outline)
    assert all(any(squeeze(t) in squeeze(o) for o in outline) for t in chapter_titles()), outline[:20]
    # MathJax typeset the equations: the TeX source of no chapter's first displayed
    # equation is left on the page (code cells may hold TeX in strings), and the
    # symbols MathJax draws are there
    for docname in CHAPTERS:
        cells = json.loads((ROOT / f"{docname}.ipynb").read_text(encoding="utf-8"))["cells"]
        prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        display = re.search(r"\$\$(.+?)\$\$", prose, re.S)
        assert display, f"{docname}: no displayed equation to look for"
        assert squeeze(display.group(1)) not in flat, f"{docname}: untypeset TeX in the PDF"
    assert "∂" in text and "∑" in text


def test_the_speed_appendix_shows_the_committed_benchmark():
    """book/speed.md renders benchmarks/results/latest.json (make bench) at build time:
    every workload's ratio, the machine, and the chart with its alt text; and
    benchmarks/results/chapters.json (make bench-book): every chapter's time."""
    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    page = (HTML / "book" / "speed.html").read_text(encoding="utf-8")
    for key, w in results["workloads"].items():
        if "ratio" in w:
            assert f">{key}<" in page and f">{w['ratio']:.2f}<" in page, key
    assert results["machine"]["cpu"] in page
    assert re.search(r'<img alt="Bar chart of the ratio[^"]+" src="[^"]*bench_ratios\.png"', page)
    # and each chapter's time and memory (benchmarks/chapters.py, make bench-book)
    chapters = json.loads((ROOT / "benchmarks" / "results" / "chapters.json").read_text())
    for name, c in chapters["chapters"].items():
        assert f">{name}<" in page and f">{c['seconds']:.0f}<" in page, name
