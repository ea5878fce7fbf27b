"""A tiny scalar reverse-mode automatic differentiation engine: the chain rule on a
computational graph (Duan's and Li's slides). See chapter 4.

Every arithmetic operation on ``Value`` objects records its inputs and a local rule
for pushing a gradient back to them. ``f.backward()`` visits the graph from f back to
the leaves in reverse topological order, so each node's gradient df/dnode is complete
(summed over all the paths that leave it) before it is passed on::

    a, b, c = Value(-2.0, "a"), Value(5.0, "b"), Value(-4.0, "c")
    f = a * b + c
    f.backward()          # a.grad = 5 (= b), b.grad = -2 (= a), c.grad = 1

A value used twice (fan-out) receives the sum of the gradients from both uses.
``draw_graph(f)`` draws the graph with matplotlib. In the spirit of Karpathy's micrograd.
"""
from __future__ import annotations

import math
import numbers
import sys

from ._checks import flag

__all__ = ["Value", "draw_graph"]

_MAX_EXP = math.log(sys.float_info.max)  # 709.78: e^x is the largest float there


def _power(base: float, k: float, func: str) -> float:
    """``base ** k`` as Python computes it, with errors that say which operation failed."""
    try:
        return base ** k
    except ZeroDivisionError:
        raise ZeroDivisionError(f"{func}: {base:g} ** {k:g} divides by zero (a negative power "
                                "of 0 is infinite)") from None
    except OverflowError:
        raise OverflowError(f"{func}: {base:g} ** {k:g} is too large for a float") from None


class Value:
    """A scalar node: ``data`` (forward value), ``grad`` (d output / d this node, filled
    by ``backward``), the nodes it was computed from and the operation's name. See chapter 4."""

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_backward")

    def __init__(self, data, label: str = "", *, _prev=(), _op: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value: data must be a number, got a Value (use it directly)")
        if isinstance(data, bool) or not isinstance(data, numbers.Real):
            raise TypeError(f"Value: data must be a real number, got {type(data).__name__}")
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__} {label!r:.40}")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self._prev = tuple(_prev)
        self._op = _op
        self._backward = None  # pushes self.grad to the inputs, set by the operation

    # -- operations: forward value + local derivative ------------------------------
    @staticmethod
    def _lift(other, op: str) -> "Value":
        """``other`` as a Value; a clear TypeError for anything but a real number or a Value
        (Python's own "unsupported operand type(s)" would not say which operation)."""
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, numbers.Real):
            raise TypeError(f"Value.{op}: other must be a real number or a Value, "
                            f"got {type(other).__name__} {other!r:.40}")
        return Value(other)

    def __add__(self, other):
        other = Value._lift(other, "__add__")
        out = Value(self.data + other.data, _prev=(self, other), _op="+")

        def _backward():  # d(a + b)/da = d(a + b)/db = 1: the gradient is copied
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value._lift(other, "__mul__")
        out = Value(self.data * other.data, _prev=(self, other), _op="*")

        def _backward():  # d(ab)/da = b, d(ab)/db = a: the inputs swap roles
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value) or not isinstance(exponent, numbers.Real):
            raise TypeError("Value.__pow__: the exponent must be a plain number, "
                            f"got {type(exponent).__name__} (write (b * a.log()).exp() for a^b)")
        k = float(exponent)
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"Value.__pow__: a negative base ({self.data}) needs a whole "
                             f"exponent, got {exponent} (the result would be complex)")
        out = Value(_power(self.data, k, "Value.__pow__"), _prev=(self,), _op=f"**{exponent:g}")

        def _backward():  # d(a^k)/da = k a^(k-1)
            self.grad += k * _power(self.data, k - 1, "Value.__pow__ (backward)") * out.grad
        out._backward = _backward
        return out

    def exp(self):
        if self.data > _MAX_EXP:  # as math.exp: an error rather than inf, which would turn
            raise OverflowError(  # into NaN (inf * 0, inf - inf) further down the graph
                f"Value.exp: e^{self.data:g} is too large for a float (e^x overflows for "
                f"x > {_MAX_EXP:.2f}); scale the input down, or use a stable form")
        out = Value(math.exp(self.data), _prev=(self,), _op="exp")

        def _backward():  # d e^a / da = e^a
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"Value.log: argument must be > 0, got {self.data}")
        out = Value(math.log(self.data), _prev=(self,), _op="log")

        def _backward():  # d log a / da = 1 / a
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), _prev=(self,), _op="tanh")

        def _backward():  # tanh' = 1 - tanh^2
            self.grad += (1 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self):
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        out = Value(s, _prev=(self,), _op="sigmoid")

        def _backward():  # sigma' = sigma (1 - sigma)
            self.grad += s * (1 - s) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), _prev=(self,), _op="relu")

        def _backward():  # 1 where a > 0, else 0 (0 at a = 0; NaN passes it on, as PyTorch)
            if not self.data <= 0:
                self.grad += out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        out = Value(-self.data, _prev=(self,), _op="neg")

        def _backward():
            self.grad -= out.grad
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = Value._lift(other, "__sub__")
        out = Value(self.data - other.data, _prev=(self, other), _op="-")

        def _backward():
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = Value._lift(other, "__truediv__")
        if other.data == 0:
            raise ZeroDivisionError(f"Value.__truediv__: division by zero ({self.data:g} / "
                                    f"{other.data:g}), as with Python floats")
        out = Value(self.data / other.data, _prev=(self, other), _op="/")

        def _backward():  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b (b^2 may underflow)
            self.grad += out.grad / other.data
            other.grad -= out.grad * out.data / other.data
        out._backward = _backward
        return out

    # the reflected forms, 2 * a etc., reuse the rules above
    def __radd__(self, other):
        return Value._lift(other, "__radd__") + self

    def __rmul__(self, other):
        return Value._lift(other, "__rmul__") * self

    def __rsub__(self, other):
        return Value._lift(other, "__rsub__") - self

    def __rtruediv__(self, other):
        return Value._lift(other, "__rtruediv__") / self

    # -- the backward pass ---------------------------------------------------------
    def topological_order(self) -> list["Value"]:
        """Every node this one depends on, each after all of its inputs (self last).
        Iterative depth-first search, so deep graphs do not hit the recursion limit."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                # reversed, so that inputs are visited (and listed) left operand first
                stack.extend((p, False) for p in reversed(node._prev) if id(p) not in seen)
        return order

    def backward(self) -> None:
        """Fill ``grad`` of every node with d self / d node, by the chain rule.

        Leaves accumulate (``+=``) across calls, as in PyTorch: call ``zero_grad`` first
        to start afresh. Interior nodes are reset on every call.
        """
        order = self.topological_order()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0  # d self / d self
        for node in reversed(order):
            if node._backward is not None:
                node._backward()

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node it depends on."""
        for node in self.topological_order():
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"


def draw_graph(root: Value, *, ax=None, show_grad: bool = True, figsize=None):
    """Draw the computational graph of ``root`` left (inputs) to right (output).

    Each value is a box (label, data and, if ``show_grad``, grad); each operation a
    circle between its inputs and its result. Returns the matplotlib Figure (pure
    matplotlib, no graphviz).
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_graph: root must be a Value, got {type(root).__name__}")
    from ._figure import check_axes, check_figsize
    check_axes(ax, "draw_graph")
    show_grad = flag(show_grad, "show_grad", "draw_graph")
    if figsize is not None:
        check_figsize(figsize, "draw_graph")
    # imported here so that the engine itself does not need matplotlib
    from matplotlib.patches import Circle, FancyBboxPatch

    from ._figure import new_figure
    order = root.topological_order()
    # column: longest path from a leaf, so every edge points to the right
    col = {}
    for node in order:
        col[id(node)] = 1 + max((col[id(p)] for p in node._prev), default=-1)
    # a leaf sits just left of its first use rather than far left
    for node in order:
        if not node._prev:
            col[id(node)] = None
    for node in order:
        for p in node._prev:
            if not p._prev:
                first = col[id(node)] - 1
                col[id(p)] = first if col[id(p)] is None else min(col[id(p)], first)
    if col[id(root)] is None:  # the root itself is a leaf
        col[id(root)] = 0
    by_col: dict[int, list[Value]] = {}
    for node in order:
        by_col.setdefault(col[id(node)], []).append(node)
    ncols = max(by_col) + 1
    nrows = max(len(v) for v in by_col.values())
    pos = {}
    for c, nodes in by_col.items():
        for r, node in enumerate(nodes):
            pos[id(node)] = (3.0 * c, (len(nodes) - 1) / 2 - r)  # each column centred on y = 0
    if ax is None:
        fig = new_figure(figsize=figsize or (max(4.0, 2.4 * ncols), max(2.0, 1.3 * nrows)))
        ax = fig.add_subplot()
    box_w, box_h = 1.5, 0.6
    for node in order:
        x, y = pos[id(node)]
        text = node.label or ""
        text = (f"{text}\n" if text else "") + f"data {node.data:.4g}"
        if show_grad:
            text += f"\ngrad {node.grad:.4g}"
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.05", facecolor="#e8f0fe",
                                    edgecolor="#3366cc"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8)
        if node._prev:
            ox, oy = x - box_w / 2 - 0.55, y  # the operation sits just left of its result
            ax.annotate("", xy=(x - box_w / 2 - 0.05, y), xytext=(ox + 0.3, oy),
                        arrowprops=dict(arrowstyle="->", color="#555555"))
            ax.add_patch(Circle((ox, oy), 0.3, facecolor="#fff4e0", edgecolor="#cc7a00"))
            ax.text(ox, oy, node._op, ha="center", va="center", fontsize=7)
            for p in dict.fromkeys(node._prev):  # a value used twice: one arrow
                px, py = pos[id(p)]
                ax.annotate("", xy=(ox - 0.3, oy), xytext=(px + box_w / 2 + 0.05, py),
                            arrowprops=dict(arrowstyle="->", color="#555555"))
    ax.set_xlim(-1.2, 3.0 * (ncols - 1) + 1.2)
    ax.set_ylim(-(nrows / 2) - 0.2, nrows / 2 + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure
