"""Private references for the checker, taken at import.

``seal(globals())`` at the bottom of a checker module gives every function and method
defined there a private copy of the module's namespace: its own builtins, and frozen
copies of the modules it names in ``freeze`` (``np``, ``math``). A reader's code that
later replaces ``cnnbook.exercises._checker._compare``, ``np.isclose`` or
``builtins.isinstance`` changes what the reader sees, not what the checker uses.

This keeps a notebook's own ``check`` honest against the easy tricks. It is not a
sandbox: code in the same process can always reach further (through frames, ``gc``),
which is why ``cnnbook.course.grade`` compares answers in a process where no reader's
code runs.
"""
from __future__ import annotations

import builtins
import types

__all__ = ["seal"]


def seal(namespace: dict, freeze: tuple[str, ...] = ()) -> None:
    """Rebind the functions defined in ``namespace`` (a module's globals) to a private copy."""
    private = dict(namespace)
    private["__builtins__"] = dict(vars(builtins))
    for name in freeze:
        private[name] = _Frozen(namespace[name])
    for name, value in list(namespace.items()):
        if _defined_in(value, namespace):
            private[name] = namespace[name] = _rebind(value, private)
        elif isinstance(value, type) and value.__module__ == namespace["__name__"]:
            for attr, member in list(vars(value).items()):
                if _defined_in(member, namespace):
                    setattr(value, attr, _rebind(member, private))
                elif isinstance(member, property) and _defined_in(member.fget, namespace):
                    setattr(value, attr, property(_rebind(member.fget, private), doc=member.__doc__))


class _Frozen(types.SimpleNamespace):
    """A module's attributes as they were at import; names it loads lazily (numpy.random)
    are looked up when first asked for."""

    def __init__(self, module):
        super().__init__(**vars(module))
        object.__setattr__(self, "_module", module)

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_module"), name)


def _defined_in(value, namespace: dict) -> bool:
    return isinstance(value, types.FunctionType) and value.__globals__ is namespace


def _rebind(fn: types.FunctionType, private: dict) -> types.FunctionType:
    clone = types.FunctionType(fn.__code__, private, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__kwdefaults__ = fn.__kwdefaults__
    clone.__qualname__, clone.__doc__, clone.__module__ = fn.__qualname__, fn.__doc__, fn.__module__
    clone.__annotations__ = fn.__annotations__
    clone.__dict__.update(fn.__dict__)
    return clone
