"""The content of the ``exercises`` branch: what Binder and Colab open from the site.

    python -m cnnbook.course.publish _build/exercises        # make exercises

writes a folder that the public repository's workflow pushes to the branch ``exercises``
(with ghp-import):

- ``chapters/NN_name.ipynb``: the exercise version of every chapter, in plain Jupyter
  Markdown (solutions replaced by stubs, MyST-only syntax turned into Markdown, so Colab
  and a Jupyter without jupyterlab-myst read them well);
- the package and what Binder needs to install it: ``cnnbook/``, ``pyproject.toml``,
  ``requirements.txt``, ``runtime.txt``, ``apt.txt``;
- a ``README.md`` saying what the branch is and where the solutions are.

The site's launch buttons point at this branch, so a reader who launches a chapter gets
the exercises; the chapters with their solutions stay on ``main``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from . import student

__all__ = ["build", "main"]

ROOT = Path(__file__).resolve().parents[2]
COPIED = ["pyproject.toml", "requirements.txt", "runtime.txt", "apt.txt"]
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

README = """# The CNN Book: exercise version

This branch is generated from `{branch}` ({commit}) by `make exercises`; do not edit it.
It holds every chapter of the book with the solutions of its exercises removed, in plain
Jupyter Markdown, and what Binder needs to run them. The site's Binder and Colab buttons
open these notebooks.

- Read the book: {site}
- The chapters with their solutions: {repo}/tree/{branch}/chapters
- Open a chapter with its solutions on Colab:
  https://colab.research.google.com/github/{slug}/blob/{branch}/chapters/01_neurons.ipynb

Each exercise ends with a check cell that grades your function and says what is wrong
without giving the answer away; `hint("ch01.perceptron")` gives hints one at a time, and
`progress()` shows what you have done so far.
"""


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"


def build(out, *, root=ROOT) -> list[Path]:
    """Write the branch's content to the folder ``out`` (emptied first); return the
    chapters written."""
    out, root = Path(out), Path(root)
    if out.resolve() in (root.resolve(), *root.resolve().parents):
        raise ValueError(f"publish.build: out must be a folder of its own, got {out}")
    if out.exists():
        shutil.rmtree(out)
    (out / "chapters").mkdir(parents=True)
    code = student.main(["--plain-markdown", str(root / "chapters"), str(out / "chapters")])
    if code != 0:
        raise RuntimeError(f"publish.build: the exercise version failed (exit status {code})")
    for name in COPIED:
        shutil.copy2(root / name, out / name)
    shutil.copytree(root / "cnnbook", out / "cnnbook", ignore=IGNORED)
    import yaml  # PyYAML comes with Jupyter Book, which only the publishing steps need

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]["url"].rstrip("/")
    slug = repo.split("github.com/")[-1]
    owner, name = slug.split("/")
    (out / "README.md").write_text(README.format(
        branch="main", commit=_commit(), repo=repo, slug=slug,
        site=f"https://{owner}.github.io/{name}/"), encoding="utf-8")
    return sorted((out / "chapters").glob("*.ipynb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnnbook.course.publish",
        description="Write the content of the exercises branch (exercise version of every "
                    "chapter, the package, Binder's files) into a folder.")
    parser.add_argument("out", help="the folder to write (emptied first)")
    args = parser.parse_args(argv)
    chapters = build(args.out)
    print(f"{args.out}: {len(chapters)} chapters in their exercise version, the package "
          f"and Binder's files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
