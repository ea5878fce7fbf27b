"""Sphinx adjustments for the CNN Book site (loaded from _config.yml, sphinx.local_extensions).

1. Numbering. The parts of chapters in _toc.yml are `numbered: true`, so that equations
   and exercises are numbered per chapter: (3.2), Exercise 3.2. Chapter titles and
   sections carry their numbers in their own text ("Chapter 3: ...", "3.1 ..."), so the
   automatic section numbers are removed from headings, the sidebar and the page
   contents, once the figure, equation and exercise numbers have been computed from them.

2. Bibliography labels. The text cites author-year, "(Chen, 2021)"
   (bibtex_reference_style: author_year); the bibliography is labelled the same way,
   "[Chen, 2021]", instead of with numbers, by the pybtex style `plain_author_year`.

3. Sphinx 7.4 puts an inline script that an extension adds after the builder started
   twice on every page (once as filename None, once as ''). sphinx-thebe adds one that
   declares `const THEBE_JS_URL`, so the second copy is a JavaScript error on every page.
   The duplicates are dropped from each page's script list.

4. Accessibility (checked by axe-core in tests/test_site.py). A darker link blue in
   light mode (static/cnnbook.css: the theme's reaches 4.3:1 on the tinted exercise
   boxes, under WCAG's 4.5:1). Two buttons of pydata-sphinx-theme have an accessible name
   that does not contain their visible text (WCAG 2.5.3, "label in name"): the search
   field shows "Search Ctrl+K" but is named "Search", and the colour-mode button's icons
   carry titles ("Light", "Dark") outside its name "Color mode". The search field is
   named by its text (its aria-label is dropped), and the decorative icons are hidden
   from assistive technology.
   The summary of a folded code cell (myst-nb, tag hide-input) is named "Toggle hidden
   content" while it shows "Show code cell source": it is named by its text.
   Docutils marks each bibliography entry role="doc-biblioentry" inside a role="list":
   ARIA 1.2 lets a list hold only list items, so each entry becomes role="listitem".

5. The single-page build (`make pdf`). Sphinx gives a builder the node handlers
   registered for its name, and those of its format ("html") only when none are
   registered for its name; an extension registers some for "singlehtml", so myst-nb's
   folded code cells (tag hide-input) had no handler there. The html handlers that
   "singlehtml" lacks are added to it.
"""
import codecs
import re
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec; pybtex depends on it)
from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _hide_section_numbers(app, env):
    # Runs after Sphinx's toctree collector (priority 500), which has already assigned
    # section numbers and, from them, env.toc_fignumbers (equations, exercises, figures).
    for doctree in list(env.tocs.values()) + list(env.titles.values()):
        for node in doctree.findall(nodes.Element):
            node.attributes.pop("secnumber", None)
    env.toc_secnumbers = {}
    return []


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels as sphinxcontrib-bibtex's author_year citations read: "Chen, 2021",
    "Liang and Hu, 2015", "He et al., 2016"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            names = [codecs.decode(" ".join(p.prelast_names + p.last_names), "ulatex")
                     .replace("{", "").replace("}", "")
                     for p in entry.persons.get("author") or entry.persons.get("editor") or []]
            if len(names) > 2:
                author = f"{names[0]} et al."
            else:
                author = " and ".join(names) or entry.fields.get("title", entry.key)
            yield f"{author}, {entry.fields.get('year', 'n.d.')}"


class PlainAuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", getattr(script, "priority", 0),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


_STATIC = Path(__file__).parent / "static"
_A11Y_FIXES = [
    # the search field: named by what it shows
    (re.compile(r'(<button class="btn search-button-field search-button__button[^"]*"[^>]*?) '
                r'aria-label="Search"'),
     r'\1'),
    # the colour-mode button: its icons are decoration, its name is "Color mode"
    (re.compile(r'<i class="theme-switch ([^"]*)" data-mode="(\w+)"\s+title="[^"]*"></i>'),
     r'<i class="theme-switch \1" data-mode="\2" aria-hidden="true"></i>'),
    # myst-nb's folded code cells: the summary is named by what it shows ("Show code
    # cell source"), not by a fixed aria-label
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    # bibliography entries are the items of their list
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'),
     r'\1 role="listitem"'),
]


def _singlehtml_handlers(app):
    handlers = app.registry.translation_handlers
    if app.builder.name == "singlehtml" and "singlehtml" in handlers:
        for name, pair in handlers.get("html", {}).items():
            handlers["singlehtml"].setdefault(name, pair)


def _accessibility(app):
    """Serve static/cnnbook.css, and rewrite the two theme buttons on every page as the
    page is rendered (see 4. above)."""
    app.config.html_static_path.append(str(_STATIC))
    templates = getattr(app.builder, "templates", None)
    if templates is None:
        return
    render = templates.render

    def render_fixed(template, context):
        html = render(template, context)
        for pattern, replacement in _A11Y_FIXES:
            html = pattern.sub(replacement, html)
        return html

    templates.render = render_fixed


register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "plain_author_year", PlainAuthorYearStyle)


def setup(app):
    app.connect("env-get-updated", _hide_section_numbers, priority=900)
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.connect("builder-inited", _accessibility)
    app.connect("builder-inited", _singlehtml_handlers)
    app.add_css_file("cnnbook.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
