"""The bad-input sweep over the whole public API (issue 8).

Every public callable has an entry with a VALID call (tests/sweep_kernels.py,
sweep_layers.py, sweep_math.py, sweep_tools.py; the kernels reuse the kernel contract's registry
builders). From it, ONE argument at a time is replaced by each value of the standard list
for its kind (tests/sweep_core.py: for arrays None, a str, a list of str, complex, object,
int, bool, NaN, inf, one dimension more or less, a same-size other shape, N = 0, an
empty last axis, a 0-d array; for ints None, "2", 2.0, 2.5, True, 0, -1, 10**12; for
floats None, "0.1", nan, inf, -1.0, 0.0, 1e300; for flags "no", 0, 1, None; for rng
"seed", -1, 1.5, a list; for functions None, 3; for strings "", "nonsense", 3; ...).
Each call is a clear error naming the function and the argument, or returns what
PyTorch returns for the same call (float64, CPU), or passes the entry's stated
consistency rule: never a generic NumPy/Python error, never a silent wrong result.

Print the table of outcomes with ``PYTHONPATH=$PWD python tests/test_sweep.py``
(``--all`` lists every call, ``--bad`` only the generic errors and wrong results).
"""
from __future__ import annotations

import inspect
import sys
import warnings

import pytest

import cnnbook
from cnnbook import autograd, data, gradcheck, models, optim, plot, train
from cnnbook.module import Module

from sweep_core import bad_calls, outcome, same, table
from sweep_kernels import KERNEL_ENTRIES
from sweep_layers import module_entries
from sweep_math import math_entries
from sweep_tools import tool_entries

ENTRIES = KERNEL_ENTRIES + module_entries() + math_entries() + tool_entries()
IDS = [e.id for e in ENTRIES]


def public_names() -> set[str]:
    """Every public callable the sweep must cover, as a reader calls it."""
    names = set()
    for module in (cnnbook, data, models, train, plot, optim, gradcheck, autograd):
        names |= {n for n in module.__all__ if callable(getattr(module, n))
                  and not n.startswith("_")}
    names |= {"check", "hint"}
    names |= {f"Value.{n}" for n, v in vars(autograd.Value).items()
              if callable(v) and (not n.startswith("_") or n in OPERATORS)}
    for n in cnnbook.__all__:
        obj = getattr(cnnbook, n)
        if inspect.isclass(obj) and issubclass(obj, Module) and obj is not Module:
            names |= {f"{n}.forward", f"{n}.backward"}
        if inspect.isclass(obj) and issubclass(obj, optim.Optimizer) and obj is not optim.Optimizer:
            names.add(f"{n}.step")
    return names


OPERATORS = {"__add__", "__mul__", "__pow__", "__neg__", "__sub__", "__truediv__", "__radd__",
             "__rmul__", "__rsub__", "__rtruediv__"}


def test_every_public_name_has_an_entry():
    missing = sorted(public_names() - {e.name for e in ENTRIES})
    assert not missing, f"add a valid call for these to the sweep (tests/sweep_*.py): {missing}"
    assert len(set(IDS)) == len(IDS), "two entries share an id: give one a variant"


def test_every_argument_is_swept_or_said_why_not():
    """An entry varies every argument of its call, or says why it does not."""
    for e in ENTRIES:
        valid = e.build()
        unswept = [k for k in valid if k not in e.kinds and not k.startswith("_")
                   and k not in ("self", "cache")]
        assert not unswept or e.fixed, f"{e.id}: {unswept} are not swept and `fixed` says nothing"


def test_the_sweep_is_whole():
    """Thousands of bad calls, every entry judged by a twin or a rule."""
    assert sum(len(bad_calls(e)) for e in ENTRIES) >= 5000
    assert all(e.twin is not None or e.rule is not None for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_the_valid_call_is_right(entry):
    """The valid call itself returns, and agrees with the twin (or passes the rule): the
    judge of the bad calls is sound."""
    args = entry.build()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = entry.call(args)
    compare = entry.same or same
    if entry.twin is not None:
        assert compare(result, entry.call_twin(entry.build())), f"{entry.id}: differs from its twin"
    else:
        assert entry.rule(result, entry.build()), f"{entry.id}: breaks its rule"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_bad_input(entry):
    """Every bad call is a clear error or a right result (by the twin, the rule or a
    documented reason); never a generic error, never a silent wrong result."""
    results = [outcome(entry, slot, tag) for slot, tag in bad_calls(entry)]
    bad = [o.line() for o in results if o.cls in ("generic", "silent")]
    assert not bad, f"{len(bad)} of {len(results)} bad calls:\n" + "\n".join(bad)


def main(argv):
    results = [outcome(e, slot, tag) for e in ENTRIES for slot, tag in bad_calls(e)]
    print(f"public names covered: {len({e.name for e in ENTRIES})} "
          f"(required: {len(public_names())}), entries: {len(ENTRIES)}")
    print(table(results))
    if "--all" in argv or "--bad" in argv:
        for o in results:
            if "--all" in argv or o.cls in ("generic", "silent"):
                print(o.line())
    return 0 if all(o.cls in ("clear", "correct") for o in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
