"""``cnnbook-student --plain-markdown``: MyST-only syntax becomes plain Markdown that reads
well in Colab and in a Jupyter without jupyterlab-myst, numbered as on the site."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnnbook.course._markdown import Book, load_book, number_labels, to_plain_markdown
from cnnbook.course.student import main as student_main

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
MYST = re.compile(r"\{[\w:-]+\}`|^(`{3,}|:{3,})\{|\$\$[ \t]*\([\w-]+\)|^\([\w-]+\)=", re.MULTILINE)

BOOK = Book(labels={"ch05-conv": "(5.1)", "ch04-other": "(4.7)", "ex-05-conv": "Exercise 5.1"},
            citations={"chen2021basics": ("Chen", "2021"), "he2016deep": ("He et al.", "2016")},
            site="https://example.org/book", pages={"book/errata": "Errata of the sources"})


def convert(*sources, solutions=False):
    nb = new_notebook(cells=[new_markdown_cell(s) for s in sources] + [new_code_cell("x = 1")])
    to_plain_markdown(nb, 5, BOOK, solutions=solutions)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_exercise_and_solution_boxes_become_numbered_titles():
    cells = convert(
        "```{exercise} A convolution layer\n:label: ex-05-conv\n\nWrite `conv2d`, eq. {eq}`ch05-conv`.\n```",
        "```{solution-start} ex-05-conv\n:class: dropdown\n```",
        "```{solution-end}\n```",
        "::::{exercise}\n:label: ex-05-two\n\n:::{note}\nA nested note.\n:::\n::::",
    )
    assert cells == [
        "**Exercise 5.1 (A convolution layer)**\n\nWrite `conv2d`, eq. (5.1).",
        "**Your solution to Exercise 5.1**",
        "**Exercise 5.2**\n\n> **Note**\n>\n> A nested note.",
    ]
    assert convert("```{solution-start} ex-05-conv\n```", solutions=True) == ["**Solution to Exercise 5.1**"]


def test_a_solution_block_is_dropped_from_the_exercise_version_only():
    block = "```{solution} ex-05-conv\nThe answer is 42.\n```"
    assert convert("Before.", block) == ["Before."]
    assert convert(block, solutions=True) == ["**Solution to Exercise 5.1**\n\nThe answer is 42."]


def test_admonitions_become_quotes():
    assert convert("```{admonition} Where this differs\n:class: note\nSee {cite}`chen2021basics`.\n```") == [
        "> **Where this differs**\n>\n> See (Chen, 2021)."]


def test_labelled_equations_keep_their_number():
    text = "Look:\n\n$$\na = b\n$$ (ch05-conv)\n\nand inline $x$, $$ y = 1 $$ (ch05-new) done."
    assert convert(text) == ["Look:\n\n$$\na = b\n\\tag{5.1}\n$$\n\nand inline $x$, $$ y = 1 \\tag{5.1} $$ done."]


def test_roles_become_text_or_links():
    text = ("{eq}`ch04-other`, {numref}`ex-05-conv`, {ref}`the layer <ex-05-conv>`, "
            "{cite:t}`he2016deep`, {cite}`chen2021basics,he2016deep`, {doc}`../book/errata`, "
            "{doc}`the notes </book/notation>`, {eq}`unknown`.")
    assert convert(text) == [
        "(4.7), Exercise 5.1, the layer, He et al. (2016), (Chen, 2021; He et al., 2016), "
        "[Errata of the sources](https://example.org/book/book/errata.html), "
        "[the notes](https://example.org/book/book/notation.html), (unknown)."]


def test_code_blocks_comments_and_targets():
    text = "(sec-x)=\n% a comment\nText.\n\n```python\n{eq}`stays` in code\n```"
    assert convert(text) == ["Text.\n\n```python\n{eq}`stays` in code\n```"]


def test_numbers_follow_the_site():
    nb = new_notebook(cells=[
        new_markdown_cell("$$\na\n$$ (eq-a)\n\n```{exercise} One\n:label: ex-a\nx\n```"),
        new_markdown_cell("$$ b $$ (eq-b)\n$$ c $$"),
        new_markdown_cell("```{exercise}\n:label: ex-b\ny\n```"),
    ])
    assert number_labels(3, nb) == {"eq-a": "(3.1)", "eq-b": "(3.2)", "ex-a": "Exercise 3.1", "ex-b": "Exercise 3.2"}


def test_the_book_gives_citations_pages_and_site():
    book = load_book(ROOT / "chapters")
    assert book.citations["chen2021basics"] == ("Chen", "2021")
    assert book.pages["book/errata"] == "Errata of the sources"
    assert book.site.startswith("https://") and not book.site.endswith("/")


@pytest.mark.parametrize("keep", [False, True], ids=["exercises", "solutions"])
def test_real_chapters_have_no_myst_left(keep, tmp_path):
    args = ["--plain-markdown"] + (["--keep-solutions"] if keep else [])
    assert student_main([*args, str(ROOT / "chapters"), str(tmp_path)]) == 0
    for path in CHAPTERS:
        nb = nbformat.read(tmp_path / path.name, 4)
        chapter = int(path.name[:2])
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert not MYST.search(text), (path.name, MYST.search(text)[0])
        titles = re.findall(rf"^\*\*Exercise {chapter}\.(\d+)", text, re.MULTILINE)
        assert titles == [str(k) for k in range(1, len(titles) + 1)] and titles, path.name
        assert re.search(rf"\\tag{{{chapter}\.1}}", text), path.name
        solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert all(("NotImplementedError" in c.source) != keep for c in solutions)
