"""The directive ``bench-results`` of the appendix "How fast is cnnbook?" (book/speed.md).

    ```{bench-results} benchmarks/results/latest.json
    ```

reads the results that ``make bench`` wrote (``benchmarks/run.py --json``, committed) and
renders, at build time: the run's date, machine, library versions, threads and load; a
table of every workload with cnnbook's and PyTorch's median times, their ratio and the
target; and a bar chart of the ratios (drawn with matplotlib, with alt text). So the
page always shows the committed numbers, never numbers typed by hand. The directive
``bench-chapters`` does the same for each chapter's run time and peak memory
(``benchmarks/chapters.py --json``, ``make bench-book``).
"""
from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

_ROOT = Path(__file__).resolve().parents[2]
_IMAGE = "bench_ratios.png"


def load(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data.get("workloads"), dict) or "machine" not in data:
        raise ValueError(f"{path}: not a benchmarks/run.py --json file "
                         f"(needs 'machine' and 'workloads')")
    return data


def measured(data: dict) -> list[tuple[str, dict]]:
    """The workloads with both a cnnbook and a PyTorch time, in run order."""
    return [(key, w) for key, w in data["workloads"].items()
            if "torch_ms" in w and "ratio" in w]


def _table(rows: list[list[str]], header: list[str]) -> nodes.table:
    table = nodes.table(classes=["bench-results"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for cells, parent in [(header, head)] + [(r, body) for r in rows]:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        parent += row
    return table


def _chart(data: dict, out: Path) -> str:
    """Draw the ratios as bars with the targets; return the alt text."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from cnnbook.plot import BOOK_COLORS

    rows = measured(data)
    keys = [k for k, _ in rows]
    ratios = [w["ratio"] for _, w in rows]
    fig = Figure(figsize=(6.4, 3.2), dpi=110)
    ax = fig.add_subplot()
    colors = [BOOK_COLORS[0] if w["ratio"] <= w.get("target", float("inf")) else BOOK_COLORS[3]
              for _, w in rows]
    ax.bar(keys, ratios, color=colors)
    for i, (_, w) in enumerate(rows):
        if "target" in w:
            ax.hlines(w["target"], i - 0.4, i + 0.4, colors="k", linestyles="--", lw=1)
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set(ylabel="cnnbook time / PyTorch time", title="Below 1: cnnbook is faster")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    met = sum(w["ratio"] <= w["target"] for _, w in rows if "target" in w)
    return ("Bar chart of the ratio of cnnbook's time to PyTorch's for each workload "
            f"({', '.join(f'{k} {r:.2f}' for k, r in zip(keys, ratios))}), each with its "
            f"target as a dashed line; {met} of {len(rows)} are at or under their target.")


def load_chapters(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data.get("chapters"), dict) or not data["chapters"]:
        raise ValueError(f"{path}: not a benchmarks/chapters.py --json file (needs 'chapters')")
    return data


def _read(directive: Directive, loader) -> dict:
    """The file named by the directive's argument, read by ``loader``; rebuilt when it
    changes, and a build error naming it when it cannot be read."""
    path = _ROOT / directive.arguments[0]
    directive.state.document.settings.env.note_dependency(str(path))
    try:
        return loader(path)
    except (OSError, ValueError) as exc:
        raise directive.error(f"{directive.name}: cannot read {directive.arguments[0]}: {exc}")


class BenchResults(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        data = _read(self, load)
        m = data["machine"]
        facts = nodes.bullet_list()
        for label, value in [
            ("Run", f"{m.get('date', '?')}, {data.get('threads', '?')} thread(s) for each "
                    f"library{', quick mode (fewer repeats)' if data.get('quick') else ''}"),
            ("Machine", m.get("cpu", "?")),
            ("Load average when it started (1, 5, 15 min)", m.get("load average", "?")),
            ("NumPy float32 matrix-product peak", f"{m.get('matmul_peak_gflops', 0):.0f} GFLOP/s"),
            ("Python", m.get("python", "?")),
            ("NumPy", m.get("numpy", "?")),
            ("PyTorch", m.get("torch", "?")),
        ]:
            item = nodes.list_item()
            para = nodes.paragraph()
            para += nodes.strong(text=f"{label}: ")
            para += nodes.Text(str(value))
            item += para
            facts += item
        rows = []
        for key, w in measured(data):
            target = w.get("target")
            rows.append([key, w.get("title", ""), f"{w['cnnbook_ms']:,.1f}", f"{w['torch_ms']:,.1f}",
                         f"{w['ratio']:.2f}", "" if target is None else f"{target:g}",
                         "" if target is None else ("yes" if w["ratio"] <= target else "no")])
        naive = data["workloads"].get("W1 naive")
        table = _table(rows, ["", "workload", "cnnbook (ms)", "PyTorch (ms)", "ratio",
                              "target", "met"])
        # drawn into the build folder at read time; "/..." is relative to the book's root
        alt = _chart(data, Path(env.app.srcdir) / "_build" / "bench" / _IMAGE)
        image = nodes.image(uri=f"/_build/bench/{_IMAGE}", alt=alt)
        out = [facts, table, image]
        if naive:
            out.insert(2, nodes.paragraph(
                text=f"The naive loops of W1 (conv2d_forward_naive, scaled to the same 64 "
                     f"images) took {naive['cnnbook_ms']:,.0f} ms, "
                     f"{naive['cnnbook_ms'] / data['workloads']['W1']['cnnbook_ms']:,.0f} "
                     f"times the vectorized kernel."))
        return out


class BenchChapters(Directive):
    """``bench-chapters``: each chapter's run time and peak memory from the JSON that
    ``benchmarks/chapters.py --json`` wrote (``make bench-book``), with the totals."""
    required_arguments = 1
    has_content = False

    def run(self):
        data = _read(self, load_chapters)
        chapters = data["chapters"]
        rows = [[name, f"{c['seconds']:.0f}", f"{c['peak_bytes'] / 2**20:,.0f}"]
                for name, c in chapters.items()]
        total = sum(c["seconds"] for c in chapters.values())
        peak = max(c["peak_bytes"] for c in chapters.values())
        rows.append(["the book", f"{total:.0f} ({total / 60:.1f} min)",
                     f"{peak / 2**20:,.0f} (the largest)"])
        note = nodes.paragraph(text=f"Run {data.get('date', '?')}, BLAS threads: "
                                    f"{data.get('threads', '?')}, one chapter at a time.")
        return [note, _table(rows, ["chapter", "seconds", "peak memory (MiB)"])]


def setup(app):
    app.add_directive("bench-results", BenchResults)
    app.add_directive("bench-chapters", BenchChapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
