"""Training loop, evaluation and prediction for ``cnnbook`` Modules. See chapter 4.

``fit`` runs mini-batch gradient descent: for each batch, zero the gradients, forward,
loss, backward, optimizer step. It records the per-epoch loss and (for classification)
accuracy in a ``History`` that ``cnnbook.plot.plot_history`` draws, and shows a tqdm
progress bar:

- ``progress="auto"``: the environment variable ``CNNBOOK_PROGRESS`` ("off", "text",
  "notebook") decides if set; otherwise a notebook widget inside a Jupyter kernel (when
  ipywidgets is installed), a text bar when stderr is a terminal, and nothing otherwise.
- ``"off"``, ``"text"``, ``"notebook"`` (or False/True) choose directly.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ._checks import flag, function, positive_int
from .activations import Sigmoid
from ._init import make_rng
from .losses import _accuracy, binary_cross_entropy
from .module import no_grad

__all__ = ["History", "progress_mode", "fit", "predict", "evaluate"]

_MODES = ("off", "text", "notebook")


@dataclass
class History:
    """Per-epoch training record: one entry per epoch in each list (None where a
    quantity does not apply: accuracy for regression, validation without val_data).
    See chapters 4 and 6."""

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    time: list = field(default_factory=list)  # seconds per epoch, validation included

    def as_dict(self) -> dict[str, list]:
        return {k: list(getattr(self, k)) for k in
                ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "time")}

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        # no times: they change from run to run, and this repr appears in notebooks
        cols = [c for c in ("train_loss", "train_acc", "val_loss", "val_acc")
                if any(v is not None for v in getattr(self, c))]
        lines = [f"History ({len(self)} epochs)", " epoch" + "".join(f"{c:>12}" for c in cols)]
        rows = list(range(len(self)))
        if len(rows) > 10:
            rows = rows[:5] + [None] + rows[-5:]
        for i in rows:
            if i is None:
                lines.append("   ...")
                continue
            cells = "".join("{:>12}".format("-" if getattr(self, c)[i] is None
                                             else f"{getattr(self, c)[i]:.4f}") for c in cols)
            lines.append(f"{self.epoch[i]:>6}{cells}")
        return "\n".join(lines)


# -- progress bar -----------------------------------------------------------------------
def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # IPython half-imported or mocked: treat as "not a kernel"
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_mode(progress="auto", *, _func="progress_mode") -> str:
    """Resolve ``progress`` to "off", "text" or "notebook" (rules in the module docstring)."""
    if progress is True:
        progress = "auto"
    if progress is False or progress is None:
        return "off"
    if progress == "auto":
        env = os.environ.get("CNNBOOK_PROGRESS", "").strip().lower()
        if env:
            if env not in _MODES:
                raise ValueError(f"{_func}: the environment variable CNNBOOK_PROGRESS must be "
                                 f"one of {_MODES}, got {env!r}")
            return env
        if _in_jupyter_kernel():
            try:
                import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
                return "notebook"
            except ImportError:
                return "text"
        return "text" if getattr(sys.stderr, "isatty", lambda: False)() else "off"
    if not isinstance(progress, str) or progress not in _MODES:
        raise ValueError(f"{_func}: progress must be 'auto', True/False or one of {_MODES}, "
                         f"got {progress!r}")
    return progress


def _make_bar(mode, total):
    if mode == "off":
        return None
    if mode == "notebook":
        from tqdm.notebook import tqdm
        return tqdm(total=total, leave=True)
    from tqdm import tqdm
    # outside a terminal (a notebook being executed, a log file) redraw rarely
    interval = 0.1 if getattr(sys.stderr, "isatty", lambda: False)() else 1.0
    return tqdm(total=total, leave=True, file=sys.stderr, mininterval=interval,
                dynamic_ncols=True)


# -- helpers ----------------------------------------------------------------------------
def _last_layer(model):
    while model.children():
        model = model.children()[-1]
    return model


def _threshold(model, loss_fn=None) -> float:
    """Decision threshold for a single output: 0.5 for probabilities, 0 for logits."""
    probs = loss_fn is binary_cross_entropy or isinstance(_last_layer(model), Sigmoid)
    return 0.5 if probs else 0.0


def _is_classification(y) -> bool:
    """Integer labels, or float targets that are all 0 or 1 (binary, one output)."""
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return True
    return (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)) and bool(np.all((y == 0) | (y == 1)))


def _n_correct(out, yb, threshold) -> float:
    if out.ndim > 2 and out.shape[1] > 1 and yb.shape == out.shape[:1] + out.shape[2:]:
        # per-pixel labels (segmentation, chapter 12): each example counts with the
        # fraction of its pixels that are right, so correct / n is the pixel accuracy
        hits = out.argmax(axis=1) == yb  # (B, H, W)
        return float(hits.reshape(len(hits), -1).mean(axis=1).sum())
    if out.ndim == 2 and out.shape[1] > 1:
        return int(np.count_nonzero(out.argmax(axis=1) == yb.reshape(-1)))  # (B,)
    # one score per example: (B,) or (B, 1) -> (B,)
    return int(np.count_nonzero((out.reshape(-1) > threshold) == (yb.reshape(-1) > 0.5)))


def _check_model(model, func):
    """A Module-like model: forward, plus train/eval to switch modes."""
    if not all(callable(getattr(model, m, None)) for m in ("forward", "train", "eval")):
        raise TypeError(f"{func}: model must be a Module (with forward, train and eval), "
                        f"got {type(model).__name__}")


def _data(data, name):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"fit: {name} must be a pair (X, y), got {type(data).__name__}")
    X, y = np.asarray(data[0]), np.asarray(data[1])
    if len(X) != len(y):
        raise ValueError(f"fit: {name} has {len(X)} inputs but {len(y)} targets "
                         f"(X.shape={X.shape}, y.shape={y.shape})")
    if len(X) == 0:
        raise ValueError(f"fit: {name} is empty")
    return X, y


def _check_optimizer_holds(optimizer, model):
    """An optimizer built on another model's parameters would step those, or find no
    gradient there: say so before training."""
    held = getattr(optimizer, "params", None)
    if not isinstance(held, list) or not callable(getattr(model, "parameters", None)):
        return  # an optimizer of one's own making: trust it
    ours = {id(p[k]) for p, _, k in model.parameters()}
    theirs = {id(item[0][item[2]]) for item in held
              if isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], dict)}
    if ours and not ours & theirs:
        raise ValueError("fit: optimizer holds none of the model's parameters (was it built "
                         "for another model? use e.g. SGD(model, lr=0.1))")


# -- the three entry points -------------------------------------------------------------
def fit(model, loss_fn, optimizer, train_data, *, epochs, batch_size=128, val_data=None,
        rng=None, progress="auto", shuffle=True) -> History:
    """Train ``model`` by mini-batch gradient descent; return its ``History``.

    For each batch: model.zero_grad(); out = model.forward(X_b);
    (loss, dout) = loss_fn(out, y_b); model.backward_params(dout); optimizer.step()
    (``backward_params``: backward without the gradient of X_b, which nothing needs).
    Backward adds into the grads (a layer used twice gets both gradients), so they are
    zeroed before every step. ``train_data`` and ``val_data`` are (X, y) pairs;
    the batches are reshuffled every epoch (with ``rng``) unless shuffle=False.
    Training and validation accuracy are recorded when y holds class labels (the pixel
    accuracy for per-pixel labels (N, H, W) and logits (N, C, H, W), chapter 12).
    The model is in training mode while it learns, evaluation mode for validation,
    and is left in the mode it had before. See chapters 4 and 6.
    """
    _check_model(model, "fit")
    X, y = _data(train_data, "train_data")
    val = _data(val_data, "val_data") if val_data is not None else None
    epochs = positive_int(epochs, "epochs", "fit")
    batch_size = positive_int(batch_size, "batch_size", "fit")
    function(loss_fn, "loss_fn", "fit", "a function (input, target) -> (loss, dinput)")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"fit: optimizer must have a step() method, got {type(optimizer).__name__}")
    _check_optimizer_holds(optimizer, model)
    shuffle = flag(shuffle, "shuffle", "fit")
    rng = make_rng(rng)
    mode = progress_mode(progress, _func="fit")
    classify = _is_classification(y)
    threshold = _threshold(model, loss_fn)
    n = len(X)
    n_batches = math.ceil(n / batch_size)
    history = History()
    was_training = model.training
    bar = _make_bar(mode, epochs * n_batches)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            if bar is not None:
                bar.set_description_str(f"epoch {epoch}/{epochs}", refresh=False)
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum, correct = 0.0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = X[idx], y[idx]
                model.zero_grad()
                out = model.forward(xb)
                loss, dout = loss_fn(out, yb)
                model.backward_params(dout)  # the gradient of xb is not needed
                optimizer.step()
                loss_sum += loss * len(idx)
                if classify:
                    correct += _n_correct(out, yb, threshold)
                if bar is not None:
                    bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
                    bar.update(1)
            history.epoch.append(epoch)
            history.train_loss.append(loss_sum / n)
            history.train_acc.append(correct / n if classify else None)
            if val is not None:
                vloss, vacc = _loss_and_accuracy(model, loss_fn, *val, batch_size=max(batch_size, 1000),
                                                 threshold=threshold)
            else:
                vloss, vacc = None, None
            history.val_loss.append(vloss)
            history.val_acc.append(vacc)
            history.time.append(time.perf_counter() - start)
            if bar is not None:
                summary = f"loss {history.train_loss[-1]:.4f}"
                if classify:
                    summary += f", acc {history.train_acc[-1]:.4f}"
                if vacc is not None:
                    summary += f", val_acc {vacc:.4f}"
                elif vloss is not None:
                    summary += f", val_loss {vloss:.4f}"
                bar.set_postfix_str(summary, refresh=False)  # drawn at the next update or close
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    return history


def _loss_and_accuracy(model, loss_fn, X, y, *, batch_size, threshold):
    """Mean loss and accuracy (None unless y holds class labels) in evaluation mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    classify = _is_classification(y)
    try:
        with no_grad():  # nothing is backpropagated: keep no caches
            for start in range(0, len(X), batch_size):
                xb, yb = X[start:start + batch_size], y[start:start + batch_size]
                out = model.forward(xb)
                loss, _ = loss_fn(out, yb)
                loss_sum += loss * len(xb)
                if classify:
                    correct += _n_correct(out, yb, threshold)
    finally:
        model.train(was_training)
    return loss_sum / len(X), (correct / len(X) if classify else None)


def predict(model, X, *, batch_size=1000) -> np.ndarray:
    """The model's outputs (logits for a classifier) for every row of X, computed in
    evaluation mode in batches of ``batch_size``, keeping no caches (``no_grad``); the
    model's mode is restored. See chapter 6."""
    return _predict(model, X, batch_size, "predict")


def _predict(model, X, batch_size, func):
    _check_model(model, func)
    X = np.asarray(X)
    batch_size = positive_int(batch_size, "batch_size", func)
    if X.ndim == 0:
        raise ValueError(f"{func}: X must have one row per example, got X.shape={X.shape}")
    if len(X) == 0:
        raise ValueError(f"{func}: X is empty")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outs = [model.forward(X[s:s + batch_size]) for s in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)


def evaluate(model, X, y, *, batch_size=1000, threshold=None) -> float:
    """Accuracy of the model on (X, y), y holding class labels: argmax of the outputs
    for C > 1 outputs; for a single output, class 1 where it exceeds ``threshold``
    (default 0.5 when the model ends with a Sigmoid, else 0, for logits).
    See chapters 4 and 6."""
    _check_model(model, "evaluate")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"evaluate: X and y must have one row per example, got "
                         f"X.shape={X.shape} and y.shape={y.shape}")
    if len(y) != len(X):
        raise ValueError(f"evaluate: X has {len(X)} rows but y has {len(y)} labels")
    out = _predict(model, X, batch_size, "evaluate")
    threshold = _threshold(model) if threshold is None else threshold
    return _accuracy(out, y, threshold, "evaluate")  # checks y: class indices, or 0/1
