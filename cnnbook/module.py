"""Module and Sequential: the thin layer API on top of the kernels.

A ``Module`` holds ``params`` and ``grads`` dicts with the same keys, a ``forward(x)``
that keeps only the cache of its last call, and a ``backward(dout) -> dx`` that fills
``grads`` (overwriting them) from that cache. ``train()`` / ``eval()`` switch the
behaviour of layers such as dropout and batch norm. See chapter 1.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Module", "Sequential"]


class Module:
    """Base class: a layer or a composition of layers. See chapter 1."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache = None

    # -- the two passes -------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, x):
        return self.forward(x)

    def _cache_or_raise(self):
        """The cache of the last forward call; a clear error if there was none."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: "
                "run forward(x) first, then backward(dout)"
            )
        return self._cache

    def _store_grads(self, **grads) -> None:
        """Keep the gradients a kernel returned, skipping None (e.g. no bias)."""
        for key, grad in grads.items():
            if grad is not None:
                self.grads[key] = grad

    # -- composition ----------------------------------------------------------------
    def children(self) -> list["Module"]:
        """Sub-modules (none for a plain layer)."""
        return []

    def named_modules(self, prefix: str = ""):
        """Yield ``(name, module)`` for this module and every sub-module, depth first."""
        yield prefix, self
        for i, child in enumerate(self.children()):
            yield from child.named_modules(f"{prefix}.{i}" if prefix else str(i))

    def parameters(self) -> list[tuple[dict, dict, str]]:
        """``(params, grads, key)`` for every learnable array, for an optimizer.

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
        """Number of learnable scalars."""
        return int(sum(v.size for _, v in self.named_parameters()))

    def zero_grad(self) -> None:
        for _, m in self.named_modules():
            for k, v in m.params.items():
                m.grads[k] = np.zeros_like(v)

    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter (and buffer such as ``running_mean``), by name."""
        state = {}
        for name, m in self.named_modules():
            for k, v in {**m.params, **getattr(m, "buffers", {})}.items():
                state[f"{name}.{k}" if name else k] = v.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values in place from a ``state_dict`` (shapes must match)."""
        own = {}
        for name, m in self.named_modules():
            for store in (m.params, getattr(m, "buffers", {})):
                for k in store:
                    own[f"{name}.{k}" if name else k] = (store, k)
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for key, (store, k) in own.items():
            value = np.asarray(state[key])
            if value.shape != store[k].shape:
                raise ValueError(
                    f"load_state_dict: {key} has shape {store[k].shape} but the state has {value.shape}"
                )
            store[k][...] = value

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


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

    def children(self) -> list[Module]:
        return self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
