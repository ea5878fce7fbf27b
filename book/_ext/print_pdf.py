"""Print the whole book to one PDF, offline: the single-page HTML build
(`jupyter-book build . --builder singlehtml`) opened in the system Chromium through
Playwright, MathJax left to typeset every equation, then printed with a table of
contents (the book's own, on the first pages), PDF bookmarks for every section, and
page numbers.

    python book/_ext/print_pdf.py _build/singlehtml _build/pdf/cnn-book.pdf

`make pdf` runs both steps; `make book` puts the PDF on the site (html_extra_path).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
import urllib.parse
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# Print layout: the page's text only (no navigation, launch buttons or search), every
# chapter on a new page, figures and code cells kept whole where they fit on a page.
PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer,
.bd-footer-article, .prev-next-area, .header-article-items, .dropdown-launch-buttons,
.skip-link, #pst-back-to-top, .theme-switch-button, .search-button-field,
.headerlink { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-container, .bd-page-width,
.bd-container__inner { max-width: none !important; width: 100% !important;
  padding: 0 !important; margin: 0 !important; display: block !important; }
html, body { font-size: 10.5pt; }
.cnnbook-chapter-start { break-before: page; }
img, figure, .cell_output img, .math.notranslate.nohighlight, mjx-container[display="true"],
.admonition, table { break-inside: avoid; }
div.cell { break-inside: auto; }
div.cell_input, .highlight pre { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
pre { white-space: pre-wrap !important; word-break: break-word; }
"""

# The single-page build opens with the book's table of contents (the root page's
# toctree); every page it includes after that (a chapter, a back-matter page) follows a
# marker <span id="document-NAME">, and starts on a new page of the PDF.
MARK_PAGES = """() => {
  const starts = Array.from(document.querySelectorAll('span[id^="document-"] + section'));
  starts.forEach(s => s.classList.add('cnnbook-chapter-start'));
  return starts.map(s => (s.querySelector('h1, h2, h3') || s).textContent.replace(/#$/, '').trim());
}"""

FOOTER = ('<div style="font-size:8pt;width:100%;text-align:center;color:#444;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def _serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def print_book(site: Path, out: Path, *, page: str = "book/intro.html") -> list[str]:
    """Print ``site``/``page`` (a single-page build) to ``out``; return the chapter titles."""
    from playwright.sync_api import sync_playwright

    if not (site / page).is_file():
        raise SystemExit(f"print_pdf: {site / page} is missing: build the single-page HTML "
                         "first (jupyter-book build . --builder singlehtml)")
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"print_pdf: {CHROMIUM} is missing: install the Debian package chromium")
    # Sphinx's single-page build writes the root page to book/intro.html but its links
    # (styles, MathJax, images) relative to the build's top folder: open it from there.
    top = site / "_print.html"
    top.write_text((site / page).read_text(encoding="utf-8"), encoding="utf-8")
    server = _serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(service_workers="block")
            # offline: whatever is not on this machine is not fetched
            context.route("**/*", lambda r: r.continue_()
                          if urllib.parse.urlparse(r.request.url).hostname in (None, "127.0.0.1")
                          else r.abort())
            tab = context.new_page()
            tab.goto(base + top.name, wait_until="load", timeout=120_000)
            tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                  timeout=60_000)
            tab.evaluate("() => MathJax.startup.promise")
            tab.emulate_media(media="print")
            tab.add_style_tag(content=PRINT_CSS)
            titles = tab.evaluate(MARK_PAGES)
            tab.evaluate("() => document.fonts.ready")
            out.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(path=str(out), format="A4", print_background=True, outline=True,
                    tagged=True, display_header_footer=True, header_template="<span></span>",
                    footer_template=FOOTER, margin={"top": "18mm", "bottom": "20mm",
                                                    "left": "16mm", "right": "16mm"})
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return titles


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the single-page HTML build (_build/singlehtml)")
    parser.add_argument("out", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    titles = print_book(args.site, args.out)
    print(f"{args.out}: {len(titles)} chapters and pages, {args.out.stat().st_size / 1e6:.1f} MB "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
