"""Execute notebooks in place: ``python -m cnnbook.course.execute chapters/01_neurons.ipynb ...``

Each notebook runs top to bottom in a fresh ``python3`` kernel whose working directory is
the notebook's folder, with progress bars as plain text (CNNBOOK_PROGRESS=text). The
first failing cell stops everything and leaves that notebook's file untouched.
Used by ``make execute``; ``cnnbook.course.grade`` runs notebooks through ``run_notebook`` too.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

__all__ = ["TIMEOUT", "run_notebook", "tidy_streams", "main"]

TIMEOUT = 600  # seconds per cell


def run_notebook(path, *, env: dict | None = None, allow_errors: bool = False,
                 timeout: int = TIMEOUT) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` and return it with its new outputs (not written).

    ``env`` is added to this process's environment for the kernel. With
    ``allow_errors=False`` the first failing cell raises ``CellExecutionError``.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute(env={**os.environ, **(env or {})})
    return nb


def _apply_carriage_returns(text: str) -> str:
    """What a terminal shows: on each line, text after a carriage return overwrites it."""
    text = re.sub(r"\r+\n", "\n", text)
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def tidy_streams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Merge consecutive stdout/stderr outputs of a cell and apply carriage returns.

    A text progress bar redraws itself with ``\r`` hundreds of times; Jupyter shows only
    the last state, but the saved notebook (and so the site) would show every redraw.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = _apply_carriage_returns(out.text)
        cell.outputs = merged
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.course.execute",
                                     description="Execute notebooks in place, stopping at the first error.")
    parser.add_argument("notebooks", nargs="+", help="notebook files (.ipynb)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    total = time.perf_counter()
    for path in args.notebooks:
        start = time.perf_counter()
        try:
            nb = run_notebook(path, env={"CNNBOOK_PROGRESS": "text"}, timeout=args.timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            print(f"{path}: execution stopped, the file was not changed.\n{exc}", file=sys.stderr)
            return 1
        nbformat.write(tidy_streams(nb), path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s", flush=True)
    if len(args.notebooks) > 1:
        print(f"{len(args.notebooks)} notebooks in {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
