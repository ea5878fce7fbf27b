"""Execute notebooks in place: ``python -m cnnbook.course.execute chapters/01_neurons.ipynb ...``

Each notebook runs top to bottom in a fresh ``python3`` kernel whose working directory is
the notebook's folder, with progress bars as plain text (CNNBOOK_PROGRESS=text). The
first failing cell stops everything and leaves that notebook's file untouched.
Used by ``make execute``. ``run_cells`` runs a notebook with a time limit per cell and
for the whole notebook, going on past errors: ``cnnbook.course.grade`` uses it.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path

import cnnbook

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

__all__ = ["TIMEOUT", "run_notebook", "run_cells", "kernel_env", "tidy_streams", "main"]

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
    client.execute(env=kernel_env(env))
    return nb


def kernel_env(extra: dict | None = None) -> dict:
    """This process's environment plus ``extra``, with this cnnbook first on PYTHONPATH
    (so that a kernel or a process started in another folder imports the same package)."""
    env = {**os.environ, **(extra or {})}
    root = str(Path(cnnbook.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_cells(nb: nbformat.NotebookNode, folder, *, env: dict | None = None,
              cell_timeout: float = TIMEOUT, notebook_timeout: float | None = None) -> str | None:
    """Run every code cell of ``nb`` (outputs written into it) in a fresh kernel whose
    working directory is ``folder``, going on past errors. Returns None when every cell
    ran, else why the run stopped: a cell that ran longer than ``cell_timeout`` seconds,
    the whole notebook longer than ``notebook_timeout``, or a kernel that died."""
    client = NotebookClient(nb, timeout=math.ceil(cell_timeout), kernel_name="python3", allow_errors=True,
                            record_timing=False, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(folder)}})
    deadline = None if notebook_timeout is None else time.monotonic() + notebook_timeout
    with client.setup_kernel(env=kernel_env(env)):
        for index, cell in enumerate(nb.cells):
            limit, whole = cell_timeout, False
            if deadline is not None and deadline - time.monotonic() < cell_timeout:
                limit, whole = deadline - time.monotonic(), True
                if limit <= 0:
                    return f"the notebook ran longer than {notebook_timeout:g} s (stopped before cell {index + 1})"
            client.timeout = max(1, math.ceil(limit))  # whole seconds (nbclient's trait)
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except CellTimeoutError:
                if whole:
                    return f"the notebook ran longer than {notebook_timeout:g} s (stopped in cell {index + 1})"
                return f"cell {index + 1} ran longer than {cell_timeout:g} s and was stopped"
            except DeadKernelError:
                return f"the kernel died in cell {index + 1}"
    return None


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
            nb = run_notebook(path, env={"CNNBOOK_PROGRESS": "text", "CNNBOOK_RECORD": "off"},
                              timeout=args.timeout)
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
