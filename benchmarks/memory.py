"""Peak extra memory of one W1 conv2d forward call, for cnnbook and for PyTorch.

PyTorch allocates outside Python, so ``tracemalloc`` cannot see its buffers. The fair
method used for both libraries is the process's peak resident memory (Linux):

1. run in a fresh subprocess with ``MALLOC_MMAP_THRESHOLD_=65536``: glibc then serves
   every buffer of 64 KiB or more with its own ``mmap`` and returns it on free, so the
   resident size follows the live large buffers instead of a reused heap;
2. build the inputs and make one warm-up call (one-time set-up such as oneDNN's kernel
   generation is not counted), drop its result;
3. reset the peak (write ``5`` to ``/proc/self/clear_refs``), note ``VmRSS``, make the
   measured call, and report ``VmHWM - VmRSS``: the high-water mark of the call, with
   its output (8.4 MB for W1) included, as it is for both.

For NumPy the same call is also measured with ``tracemalloc`` (NumPy reports its data
buffers to it), as a cross-check of the first method.

Run ``python benchmarks/memory.py`` for both numbers, or ``python benchmarks/memory.py
--probe numpy|torch`` for one measurement in the current process.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc

import numpy as np

SHAPES = dict(x=(64, 3, 32, 32), weight=(32, 3, 3, 3), bias=(32,))


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+) kB", f.read()).group(1))


def _inputs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(SHAPES[k]).astype(np.float32) for k in ("x", "weight", "bias")]


def _call(library: str):
    x, w, b = _inputs()
    if library == "torch":
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(2)
        xt, wt, bt = map(torch.from_numpy, (x, w, b))
        return lambda: F.conv2d(xt, wt, bt, padding=1)
    from cnnbook.conv import conv2d_forward
    return lambda: conv2d_forward(x, w, b, padding=1)


def probe(library: str) -> int:
    """Peak extra resident bytes of one call (run in a fresh process, see above)."""
    call = _call(library)
    result = call()  # warm-up
    del result
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current VmRSS
    before = _status_kb("VmRSS")
    result = call()
    peak = _status_kb("VmHWM")
    del result
    return (peak - before) * 1024


def tracemalloc_peak() -> int:
    """Peak bytes NumPy allocates during one cnnbook call, by tracemalloc."""
    call = _call("numpy")
    call()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak - base


def measure(repeats: int = 3) -> dict:
    """Both libraries, each in ``repeats`` fresh subprocesses (median), plus tracemalloc."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    here = os.path.abspath(__file__)
    result = {}
    for library in ("numpy", "torch"):
        runs = []
        for _ in range(repeats):
            out = subprocess.run([sys.executable, here, "--probe", library], env=env,
                                 capture_output=True, text=True, check=True)
            runs.append(int(out.stdout.strip().splitlines()[-1]))
        result[library] = int(np.median(runs))
    result["numpy_tracemalloc"] = tracemalloc_peak()
    result["output_bytes"] = 64 * 32 * 32 * 32 * 4
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        print(probe(sys.argv[2]))
    else:
        print(json.dumps(measure(), indent=2))
