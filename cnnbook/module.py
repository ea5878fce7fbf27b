"""Module and Sequential: the thin layer API on top of the kernels.

A ``Module`` holds ``params`` and ``grads`` dicts with the same keys, ``buffers``
(running statistics, saved in the ``state_dict`` but not learned), a ``forward(x)`` and a
``backward(dout) -> dx``. ``train()`` / ``eval()`` switch the behaviour of layers such
as dropout and batch norm. See chapter 1.

Composition rules (PyTorch's, where PyTorch has one):

- Sub-modules are found by themselves: attributes that are Modules, or lists, tuples
  and dicts of Modules, in the order they were assigned, named like PyTorch
  (``block.conv1.weight``, ``layers.0.weight``). ``parameters()``, ``train()``/``eval()``,
  ``zero_grad()`` and ``state_dict()`` walk them all; a Module reachable twice (a shared
  layer) has its parameters listed once, so an optimizer steps them once.
- ``backward`` **adds** into ``grads``, so a layer used twice gets the sum of both
  gradients; ``zero_grad()`` clears them before the next step (``fit`` does it).
- Every forward call keeps its cache on a stack and every backward call takes the
  latest one (last in, first out): call a layer k times, then backward k times, in
  reverse order, as the backward pass of the whole model does naturally.
- Caches never wait forever: ``zero_grad()``, ``train()`` and ``eval()`` drop the caches
  of forward calls that were never backpropagated, and forward calls inside
  ``with no_grad():`` keep none (``predict``, ``evaluate`` and ``fit``'s validation use it).
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np

from ._checks import flag

__all__ = ["Module", "Sequential", "no_grad"]

_keep_caches = True  # False inside ``with no_grad():``

# Attributes of every Module that never hold sub-modules.
_OWN_STATE = frozenset({"params", "grads", "buffers", "training", "_caches"})


@contextlib.contextmanager
def no_grad():
    """Forward calls inside ``with no_grad():`` keep no cache, as under ``torch.no_grad()``:
    for inference, where nothing will be backpropagated. Also a decorator. See chapter 6."""
    global _keep_caches
    previous, _keep_caches = _keep_caches, False
    try:
        yield
    finally:
        _keep_caches = previous


class Module:
    """Base class: a layer or a composition of layers. See chapter 1."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training = True
        self._caches: list = []

    # -- the two passes -------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def backward_params(self, dout) -> None:
        """Backward for the parameters only: add their gradients to ``grads``, return None.

        The gradient of the input is skipped where a layer can skip it (the col2im of a
        convolution, dout @ W of a dense layer): nothing needs the gradient of the images,
        so ``fit`` calls this, as PyTorch computes no gradient for an input that does not
        require grad. Here, by default: ``backward`` with its result dropped. See chapter 6.
        """
        self.backward(dout)

    def __call__(self, x):
        return self.forward(x)

    def _push_cache(self, cache) -> None:
        """Keep one forward call's cache for its backward (nothing inside ``no_grad()``)."""
        if _keep_caches:
            self._caches.append(cache)

    def _pop_cache(self):
        """The cache of the latest forward call not yet backpropagated (last in, first out)."""
        if not self._caches:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: no forward cache is "
                "left (each forward call keeps one cache and each backward call uses one; "
                "zero_grad(), train() and eval() drop them, no_grad() keeps none): "
                "run forward(x) first, then backward(dout)"
            )
        return self._caches.pop()

    def _store_grads(self, **grads) -> None:
        """Add the gradients a kernel returned to ``grads``, skipping None (e.g. no bias)."""
        for key, grad in grads.items():
            if grad is None:
                continue
            old = self.grads.get(key)
            if old is None:
                self.grads[key] = grad
            elif old.shape != np.shape(grad):
                raise ValueError(f"{type(self).__name__}: gradient of {key!r} has shape "
                                 f"{np.shape(grad)} but grads[{key!r}] has {old.shape}")
            else:
                self.grads[key] = old + grad  # a new array: never change one handed out

    # -- composition ----------------------------------------------------------------
    def named_children(self):
        """Yield ``(name, module)`` for each direct sub-module: attributes that are Modules
        (``conv1``), or Modules in a list or tuple (``layers.0``) or a dict (``heads.a``)."""
        for name, value in vars(self).items():
            if name in _OWN_STATE:
                continue
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, Module):
                        yield f"{name}.{key}", item

    def children(self) -> list["Module"]:
        """Direct sub-modules (none for a plain layer)."""
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix: str = "", *, remove_duplicate: bool = True):
        """Yield ``(name, module)`` for this module and every sub-module, depth first.

        A module reachable twice comes once, under its first name, unless
        ``remove_duplicate=False`` (as in ``torch.nn.Module.named_modules``).
        """
        seen = set()

        def walk(module, name, ancestors):
            if id(module) in (seen if remove_duplicate else ancestors):
                return  # shared (or, without dedup, a cycle back to an ancestor)
            seen.add(id(module))
            yield name, module
            inner = ancestors | {id(module)}
            for child_name, child in module.named_children():
                yield from walk(child, f"{name}.{child_name}" if name else child_name, inner)

        yield from walk(self, prefix, frozenset())

    def parameters(self) -> list[tuple[dict, dict, str]]:
        """``(params, grads, key)`` for every learnable array, for an optimizer; a shared
        module's arrays come once.

        An optimizer reads ``grads[key]`` and updates ``params[key]`` in place, so the
        layer sees the new value without being told.
        """
        return [(m.params, m.grads, k) for _, m in self.named_modules() for k in m.params]

    def named_parameters(self):
        """Yield ``("0.weight", array)`` pairs, as in ``torch.nn.Module.named_parameters``."""
        for name, m in self.named_modules():
            for k, v in m.params.items():
                yield (f"{name}.{k}" if name else k), v

    def num_parameters(self) -> int:
        """Number of learnable scalars (a shared layer's counted once)."""
        return int(sum(v.size for _, v in self.named_parameters()))

    def zero_grad(self) -> None:
        """Set every gradient to zeros, and drop caches of forward calls never backpropagated."""
        for _, m in self.named_modules():
            for k, v in m.params.items():
                m.grads[k] = np.zeros_like(v)
            m._caches.clear()

    def train(self, mode: bool = True) -> "Module":
        """Training mode (``mode=False``: evaluation) for every sub-module; drops caches
        of forward calls never backpropagated."""
        mode = flag(mode, "mode", f"{type(self).__name__}.train")  # "no" would be truthy
        for _, m in self.named_modules():
            m.training = mode
            m._caches.clear()
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def _state_items(self):
        """``(name, store, key)`` for every parameter and buffer, named as in PyTorch's
        state_dict (a shared module under each of its names)."""
        for name, m in self.named_modules(remove_duplicate=False):
            for store in (m.params, m.buffers):
                for k in store:
                    yield (f"{name}.{k}" if name else k), store, k

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer (such as ``running_mean``), by name."""
        return {name: store[k].copy() for name, store, k in self._state_items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values in place from a ``state_dict`` (shapes must match; real numbers, whole
        ones for an integer buffer such as ``num_batches_tracked``)."""
        func = "load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{func}: state must be a dict from state_dict(), "
                            f"got {type(state).__name__}")
        own = {name: (store, k) for name, store, k in self._state_items()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"{func}: state is missing keys {missing} and has unexpected keys "
                             f"{unexpected}")
        values = {}
        for key, (store, k) in own.items():
            value = np.asarray(state[key])
            if value.shape != store[k].shape:
                raise ValueError(
                    f"{func}: {key} has shape {store[k].shape} but the state has {value.shape}"
                )
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{func}: state[{key!r}] must hold real numbers, got dtype "
                                f"{value.dtype}")
            if store[k].dtype.kind in "iu" and not np.array_equal(value, np.round(value)):
                raise ValueError(f"{func}: state[{key!r}] must hold whole numbers (the buffer is "
                                 f"{store[k].dtype}), got {value!r:.60}")
            values[key] = value
        for key, (store, k) in own.items():  # nothing is changed unless all of it fits
            store[k][...] = values[key]

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [self.extra_repr()] if self.extra_repr() else []
        lines += [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in children]
        inner = "\n".join("  " + line for line in lines)
        return f"{type(self).__name__}(\n{inner}\n)"


class Sequential(Module):
    """Layers applied one after another; backward runs them in reverse. See chapter 1."""

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: layer {i} must be a cnnbook Module, got {type(layer).__name__}"
                )
        self.layers = list(layers)

    def named_children(self):
        """``("0", layer)``, ``("1", layer)``, ...: named by position, as ``torch.nn.Sequential``
        (then any other sub-module a subclass adds, found as usual)."""
        for i, layer in enumerate(self.layers):
            yield str(i), layer
        for name, module in super().named_children():
            if not name.startswith("layers."):
                yield name, module

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def backward_params(self, dout) -> None:
        """``backward`` whose first layer skips the input gradient (``Module.backward_params``)."""
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        if self.layers:
            self.layers[0].backward_params(dout)

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)
