"""How long each chapter takes to run, and its peak memory: ``make bench-book``.

    python benchmarks/chapters.py                    # every chapter, one after another
    python benchmarks/chapters.py 06_cnn 12_unet     # some chapters
    python benchmarks/chapters.py --threads 1        # one BLAS thread in the kernels
    python benchmarks/chapters.py --json out.json    # keep the numbers

Each chapter runs top to bottom in a fresh Jupyter kernel, as ``make execute`` runs it
(the outputs are not written back). The kernel is started by a fresh helper process, so
when the helper has shut it down, the peak resident memory of its children
(``getrusage(RUSAGE_CHILDREN)``, Linux) is the kernel's own peak: the chapter's data,
models and figures, plus the Python, NumPy and Matplotlib every kernel loads.
Targets (issue 15): at most 90 s per chapter, 10 minutes for the book, 2 GiB per chapter.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_SECONDS, BOOK_SECONDS, PEAK_BYTES = 90, 600, 2 << 30

# Run in the helper process: execute one notebook, then report wall time and peak RSS.
_HELPER = """
import json, resource, sys, time
from cnnbook.course.execute import run_notebook
start = time.perf_counter()
run_notebook(sys.argv[1])
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "peak_bytes": peak_kib * 1024}))
"""


def measure(notebook: Path, env: dict) -> dict:
    """Run ``notebook`` in a fresh kernel; return its wall time and peak memory."""
    done = subprocess.run([sys.executable, "-c", _HELPER, str(notebook)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{notebook.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="names such as 06_cnn (default: all)")
    parser.add_argument("--threads", type=int,
                        help="BLAS threads in the kernels (default: the environment's)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this file")
    args = parser.parse_args(argv)

    notebooks = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        notebooks = [nb for nb in notebooks if nb.stem in args.chapters]
        if len(notebooks) != len(args.chapters):
            parser.error(f"unknown chapter among {args.chapters}")
    env = {**os.environ, "CNNBOOK_RECORD": "off"}  # the reader's progress file is left alone
    if args.threads is not None:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(args.threads)
    threads = args.threads if args.threads is not None else env.get("OPENBLAS_NUM_THREADS",
                                                                    "the default")
    started = f"{datetime.datetime.now():%Y-%m-%d %H:%M}"
    print(f"Chapters, one after another, BLAS threads: {threads}; {os.cpu_count()} cores; "
          f"{started}")
    results = {}
    for nb in notebooks:
        results[nb.stem] = measure(nb, env)
        r = results[nb.stem]
        print(f"  {nb.stem:24} {r['seconds']:6.1f} s  {r['peak_bytes'] / 2**20:7.0f} MiB", flush=True)
    total = sum(r["seconds"] for r in results.values())
    worst = max(results.values(), key=lambda r: r["seconds"])
    peak = max(r["peak_bytes"] for r in results.values())
    print(f"  {'book':24} {total:6.1f} s  {peak / 2**20:7.0f} MiB (the largest)")
    print(f"Targets: each chapter <= {CHAPTER_SECONDS} s (slowest {worst['seconds']:.0f} s), "
          f"book <= {BOOK_SECONDS // 60} min ({total / 60:.1f} min), "
          f"peak <= {PEAK_BYTES >> 30} GiB ({peak / 2**30:.2f} GiB)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": started, "threads": threads,
                       "chapters": results}, f, indent=2)


if __name__ == "__main__":
    main()
