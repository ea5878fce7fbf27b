"""Time cnnbook's kernels side by side with PyTorch (CPU, 2 threads): ``make bench``.

    python benchmarks/run.py            # every workload (a few minutes)
    python benchmarks/run.py --quick    # fewer repeats, a partial epoch for W7
    python benchmarks/run.py --only W1 W4

For each workload both versions run in this one process, in alternating rounds after
a warm-up (``time_pair``), so that a change in the machine's load hits both; the table
shows the medians. GFLOP/s counts the matrix-product work only; "% peak" relates
it to this machine's measured NumPy float32 matmul speed. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402

import workloads  # noqa: E402
import memory  # noqa: E402

THREADS = 2
EPOCHS = ("W7", "W11", "W12")  # whole epochs over Fashion-MNIST (12,800 images in quick mode)


def median_ms(times):
    return 1e3 * float(np.median(times))


def time_pair(ours, theirs, repeats, warmup, rounds=3):
    """Median milliseconds of ``ours`` and ``theirs``, in alternating rounds.

    Each round times a run of calls of one library, then of the other (ours first in
    odd rounds, theirs in even ones), so that a change in the machine's load hits both.
    Not call by call: each library's threads keep spinning for a while after a call
    (OpenBLAS's and PyTorch's OpenMP workers both do), and on two cores a call made
    while the other library's workers still spin runs several times slower. So each
    run of calls starts with one untimed call (``warmup`` > 0; an epoch is its own).
    """
    for _ in range(warmup):
        ours()
        theirs()
    rounds = max(1, min(rounds, repeats))
    per_round = -(-repeats // rounds)  # ceil
    t_ours, t_theirs = [], []
    for r in range(rounds):
        pairs = [(ours, t_ours), (theirs, t_theirs)]
        for fn, times in (pairs if r % 2 == 0 else pairs[::-1]):
            if warmup:
                fn()
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
    return median_ms(t_ours), median_ms(t_theirs)


def matmul_peak_gflops(n=2048, repeats=5):
    """Best float32 GFLOP/s of one large NumPy matmul: the machine's practical peak."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_info():
    """CPU, versions, the BLAS NumPy uses (threadpoolctl) and the BLAS environment variables."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        flags = next(line for line in lines if line.startswith("flags")).split()
        cpu += ", AVX-512" if "avx512f" in flags else ", AVX2" if "avx2" in flags else ""
    except (OSError, StopIteration):
        pass
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '-')} kernels, "
            f"{i.get('num_threads')} thread{'s' if i.get('num_threads') != 1 else ''})"
            for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS")
    env = {k: os.environ[k] for k in names if k in os.environ}
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "numpy": f"{np.__version__}, BLAS: {'; '.join(blas) or 'unknown'}",
        "torch": f"{torch.__version__}, {torch.get_num_threads()} thread"
                 f"{'s' if torch.get_num_threads() != 1 else ''}, "
                 f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}",
        "environment": ", ".join(f"{k}={v}" for k, v in env.items()) or "no BLAS variables set",
    }


def fmt(value, spec):
    """Format a number, or a right-aligned dash for 'not applicable'."""
    return format(value, spec) if value is not None else format("-", ">" + spec.split(".")[0])


def print_table(rows, peak, quick):
    """One line per workload: times, ratio, target, GFLOP/s and % of the matmul peak."""
    header = (f"{'':4} {'workload':54} {'cnnbook ms':>10} {'torch ms':>9} {'ratio':>6} "
              f"{'target':>6} {'met':>4} {'GFLOP/s':>8} {'torch':>7} {'% peak':>6}")
    print("\n" + header + "\n" + "-" * len(header))
    for w, t_ours, t_theirs, flops in rows:
        ratio = t_ours / t_theirs
        gf = None if flops is None else flops / t_ours / 1e6
        gf_t = None if flops is None else flops / t_theirs / 1e6
        pct = None if gf is None else 100 * gf / peak
        if w is None:  # the naive loops under W1
            print(f"{'':4} {'  naive loops (batch 2, scaled to 64 per FLOP)':54} {t_ours:10.1f} "
                  f"{t_theirs:9.1f} {ratio:6.1f} {'':>6} {'':>4} {fmt(gf, '8.2f')} {'':>7} "
                  f"{fmt(pct, '6.1f')}")
            continue
        title = w.title.replace("60,000", "12,800") if (w.key in EPOCHS and quick) else w.title
        met = "yes" if ratio <= w.target else "NO"
        print(f"{w.key:4} {title:54} {t_ours:10.1f} {t_theirs:9.1f} {ratio:6.2f} "
              f"{w.target:5.1f}x {met:>4} {fmt(gf, '8.1f')} {fmt(gf_t, '7.1f')} {fmt(pct, '6.1f')}")


def print_memory(mem):
    mb = 2**20
    ratio = mem["numpy"] / mem["torch"]
    print(f"\nW1 peak extra memory of one conv2d forward (peak RSS in a fresh process, "
          f"see memory.py):\n  cnnbook {mem['numpy'] / mb:.1f} MiB (tracemalloc: "
          f"{mem['numpy_tracemalloc'] / mb:.1f} MiB), torch {mem['torch'] / mb:.1f} MiB, "
          f"ratio {ratio:.2f} (target 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}); "
          f"the output itself is {mem['output_bytes'] / mb:.1f} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; W7 on 12,800 images")
    parser.add_argument("--only", nargs="+", metavar="W",
                        help="run only these workloads, e.g. W1 W4")
    parser.add_argument("--no-memory", action="store_true", help="skip the W1 memory measurement")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help=f"threads for both PyTorch and NumPy's BLAS (default {THREADS})")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads, user_api="blas")
    info = machine_info()
    info["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    if hasattr(os, "getloadavg"):
        info["load average"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print("Machine:", info["cpu"])
    for key in ("python", "numpy", "torch", "environment", "date", "load average"):
        if key not in info:
            continue
        print(f"  {key}: {info[key]}")
    peak = matmul_peak_gflops()
    print(f"  NumPy float32 matmul peak (2048 x 2048): {peak:.1f} GFLOP/s\n")

    info["matmul_peak_gflops"] = peak
    rows, results = [], {"machine": info, "threads": args.threads, "quick": args.quick,
                         "workloads": {}}
    selected = [w for w in workloads.WORKLOADS if not args.only or w.key in args.only]
    for w in selected:
        ours, theirs = w.make(args.quick)
        repeats = max(1, w.repeats // 5) if args.quick else w.repeats
        warmup = 0 if w.key in EPOCHS else 3  # an epoch warms up on a few batches (_epoch_pair)
        t_ours, t_theirs = time_pair(ours, theirs, repeats, warmup)
        flops = w.flops
        if w.key in EPOCHS and args.quick:
            flops = flops * workloads.w7_samples(True) / workloads.w7_samples(False)
        rows.append((w, t_ours, t_theirs, flops))
        results["workloads"][w.key] = dict(title=w.title, cnnbook_ms=t_ours, torch_ms=t_theirs,
                                           ratio=t_ours / t_theirs, target=w.target, flops=flops)
        print(f"  {w.key} done: {t_ours:.1f} ms vs {t_theirs:.1f} ms", flush=True)
        if w.key == "W1":  # the loop version, on a small batch, scaled per FLOP
            batch = 2
            naive = workloads.make_w1_naive(batch)
            best = min(_timed(naive) for _ in range(1 if args.quick else 3))
            t_naive = best * 1e3 * 64 / batch
            rows.append((None, t_naive, t_theirs, flops))
            results["workloads"]["W1 naive"] = dict(cnnbook_ms=t_naive, batch=batch)

    print_table(rows, peak, args.quick)
    if not args.no_memory and (not args.only or "W1" in args.only):
        results["memory"] = memory.measure(repeats=1 if args.quick else 3)
        print_memory(results["memory"])
    print(f"\nCommand: {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
