"""The record of where a reader stands: every exercise whose check has passed.

Each passed ``check`` is recorded in a small JSON file in the reader's own data folder
(``~/.local/share/cnnbook/progress.json`` on Linux, ``~/Library/Application
Support/cnnbook`` on macOS, ``%APPDATA%\\cnnbook`` on Windows; ``$CNNBOOK_PROGRESS_FILE``
names another file), never in the book's folder. Nothing is recorded in strict mode
(``CNNBOOK_STRICT=1``), under the grader, or with ``CNNBOOK_RECORD=off``; a file that
cannot be written never makes a check fail.

``progress()`` (or the command ``cnnbook-progress``) shows, per chapter, the exercises
passed out of the total and the next one to do; ``progress(reset=True)``
(``cnnbook-progress --reset``) forgets everything. See chapter 1.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ._display import strict_mode

__all__ = ["progress", "progress_file", "passed_exercises", "record_pass", "recording", "main",
           "CHAPTER_TITLES"]

_VERSION = 1
_OFF = {"0", "off", "false", "no"}
CHAPTER_TITLES = {
    "ch01": "Neurons, perceptrons and multilayer perceptrons",
    "ch02": "Bias",
    "ch03": "Activation functions",
    "ch04": "Backpropagation and gradient descent",
    "ch05": "Convolution",
    "ch06": "Building and training a CNN",
    "ch07": "Batch normalization",
    "ch08": "Receptive fields",
    "ch09": "Recurrent convolutional networks",
    "ch10": "Transformers, self-attention and positional embeddings",
    "ch11": "The vision transformer",
    "ch12": "U-Net and segmentation",
}


def progress_file() -> Path:
    """The file that holds the record: ``$CNNBOOK_PROGRESS_FILE`` when set, else
    ``progress.json`` in the reader's data folder for cnnbook."""
    given = os.environ.get("CNNBOOK_PROGRESS_FILE", "").strip()
    if given:
        return Path(given).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cnnbook" / "progress.json"


def recording() -> bool:
    """False in strict mode, under the grader and with CNNBOOK_RECORD=off."""
    return not strict_mode() and os.environ.get("CNNBOOK_RECORD", "").strip().lower() not in _OFF


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    passed = data.get("passed") if isinstance(data, dict) else None
    return {k: v for k, v in passed.items() if isinstance(k, str)} if isinstance(passed, dict) else {}


def passed_exercises() -> dict[str, str]:
    """{exercise name: when its check first passed (ISO 8601, UTC)} from the record."""
    return _load(progress_file())


def record_pass(name: str) -> None:
    """Add ``name`` to the record (keeping the time it first passed). Never raises:
    a record that cannot be written is only a lost convenience."""
    if not recording() or not isinstance(name, str):
        return
    path = progress_file()
    passed = _load(path)
    if name in passed:
        return
    passed[name] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False,
                                         encoding="utf-8") as tmp:
            json.dump({"version": _VERSION, "passed": passed}, tmp, indent=1, sort_keys=True)
        os.replace(tmp.name, path)                       # readers never see half a file
    except OSError:
        pass


def _chapters() -> list[tuple[str, list]]:
    here = Path(__file__).parent
    names = sorted(p.stem for p in here.glob("ch[0-9][0-9].py"))
    return [(ch, importlib.import_module(f"{__package__}.{ch}").EXERCISES) for ch in names]


def _rows(passed: dict) -> list[dict]:
    rows = []
    for chapter, exercises in _chapters():
        done = [ex.name for ex in exercises if ex.name in passed]
        todo = [ex for ex in exercises if ex.name not in passed]
        rows.append({
            "chapter": int(chapter[2:]),
            "title": CHAPTER_TITLES.get(chapter, ""),
            "passed": len(done),
            "total": len(exercises),
            "next": f"{todo[0].name} ({todo[0].title})" if todo else "all done",
        })
    return rows


def _table(rows: list[dict]) -> str:
    done = sum(r["passed"] for r in rows)
    total = sum(r["total"] for r in rows)
    lines = [f"{'chapter':<52} {'passed':>7}  next"]
    for r in rows:
        title = f"{r['chapter']}. {r['title']}"[:52]
        lines.append(f"{title:<52} {r['passed']:>3} / {r['total']:<2} {r['next']}")
    lines.append(f"{'all chapters':<52} {done:>3} / {total:<2}")
    return "\n".join(lines)


def progress(*, reset: bool = False) -> None:
    """Show the exercises passed out of the total per chapter, and the next one to do.

    ``reset=True`` forgets every recorded pass first. Prints where the record is kept.
    See chapter 1.
    """
    if not isinstance(reset, bool):
        raise TypeError(f"progress: reset must be True or False, got {reset!r}")
    path = progress_file()
    if reset:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        print(f"Progress reset ({path} removed).")
    rows = _rows(_load(path))
    print(_table(rows))
    state = "" if recording() else " (not recording now: strict mode or CNNBOOK_RECORD=off)"
    print(f"\nRecorded in {path}{state}.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnnbook-progress",
        description="Show the exercises you have passed, chapter by chapter, and what is next.")
    parser.add_argument("--reset", action="store_true", help="forget every recorded pass first")
    args = parser.parse_args(argv)
    progress(reset=args.reset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
