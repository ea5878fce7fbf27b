"""Every public callable of ``cnnbook`` says where the book explains it (STYLE.md rule 6):
its docstring ends with "See chapter N." (or "See chapters N and M."), and a kernel's
docstring gives shapes."""
import inspect
import re

import pytest

import cnnbook

SEE_CHAPTER = re.compile(r"See chapters? \d+((, \d+)*,? and \d+)?\.$")
# a shape in the book's vocabulary: (N, C, H, W), (N, T, D), (..., L, E), "shaped like x"
SHAPE = re.compile(r"\((\.\.\.|(N|B|C|D|H|K|L|O|T|[a-z_]*channels|[a-z]+_features)\b)"
                   r"|shaped\s+like|any shape")
PUBLIC = [n for n in cnnbook.__all__
          if callable(getattr(cnnbook, n)) and not inspect.ismodule(getattr(cnnbook, n))]
KERNELS = [n for n in PUBLIC if re.search(r"_(forward|backward)(_naive)?$", n)]


def test_the_lists_are_not_empty():
    assert len(PUBLIC) > 100 and len(KERNELS) > 60


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_ends_with_see_chapter(name):
    doc = (inspect.getdoc(getattr(cnnbook, name)) or "").strip()
    assert doc, f"cnnbook.{name} has no docstring"
    assert SEE_CHAPTER.search(doc), (
        f"cnnbook.{name}'s docstring must end with a 'See chapter N.' sentence, "
        f"it ends with: {doc.splitlines()[-1]!r}")


@pytest.mark.parametrize("name", KERNELS + ["correlate2d", "convolve2d", "im2col", "col2im"])
def test_kernel_docstring_gives_shapes(name):
    doc = inspect.getdoc(getattr(cnnbook, name)) or ""
    assert SHAPE.search(doc), f"cnnbook.{name}'s docstring gives no shapes"
