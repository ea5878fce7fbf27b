"""One helper for every op (STYLE.md rule 11): a float64 finite-difference gradient check,
a comparison against PyTorch (CPU), forward and every gradient, and a fan-out case (every
input used twice, so gradients must add up).

    check_op(conv2d_forward, conv2d_backward, F.conv2d, [x, w, b], kwargs=dict(stride=2))

``forward(*inputs, **kw) -> (out, cache)``, ``backward(dout, cache) -> grads`` (an array or
a tuple in input order; None where an input has no gradient), and ``torch_fn(*tensors, **kw)``
the PyTorch twin (keyword names may differ: pass ``torch_kwargs``).
"""
from __future__ import annotations

import numpy as np
import torch

from cnnbook.gradcheck import check_gradients

torch.set_num_threads(1)


def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def compare_with_torch(forward, backward, torch_fn, inputs, *, kwargs=None, torch_kwargs=None,
                       wrt=None, rng=0, atol=1e-8, rtol=1e-6):
    """Forward output and gradients of every array input agree with PyTorch (float64)."""
    kwargs = kwargs or {}
    torch_kwargs = kwargs if torch_kwargs is None else torch_kwargs
    rng = np.random.default_rng(rng)
    inputs = [np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in inputs]
    out, cache = forward(*inputs, **kwargs)
    dout = rng.standard_normal(np.shape(out))
    grads = as_tuple(backward(dout, cache))

    tensors = [torch.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a
               for a in inputs]
    t_out = torch_fn(*tensors, **torch_kwargs)
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=atol, rtol=rtol,
                               err_msg="forward output differs from PyTorch")
    t_out.backward(torch.tensor(dout))
    if wrt is None:
        wrt = [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray)]
    for i in wrt:
        assert grads[i] is not None, f"backward returned None for input {i}"
        t_grad = tensors[i].grad
        expected = np.zeros(inputs[i].shape) if t_grad is None else t_grad.numpy()
        np.testing.assert_allclose(grads[i], expected, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i} differs from PyTorch")


def check_op(forward, backward, torch_fn, inputs, *, kwargs=None, torch_kwargs=None,
             wrt=None, rng=0, atol=1e-8, rtol=1e-6):
    """All three checks: finite differences (float64), PyTorch agreement, and fan-out
    (every input used twice)."""
    kwargs = kwargs or {}
    check_gradients(lambda *a: forward(*a, **kwargs), backward, inputs, wrt=wrt, rng=rng)
    compare_with_torch(forward, backward, torch_fn, inputs, kwargs=kwargs,
                       torch_kwargs=torch_kwargs, wrt=wrt, rng=rng, atol=atol, rtol=rtol)
    check_fan_out(forward, backward, inputs, kwargs=kwargs, wrt=wrt, rng=rng)


def check_fan_out(forward, backward, inputs, *, kwargs=None, wrt=None, rng=0):
    """Every input used twice, y = f(*inputs) + f(*inputs): each gets the sum of both
    gradients, 2 * df/dinput (a shared weight, a residual branch).

    ``inputs`` is a list of arguments, or a single array. Run through
    ``check_gradients`` on the composite, so a kernel that (say) mutates its cache or
    dout, or returns a view it later overwrites, is caught.
    """
    kwargs = kwargs or {}
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]

    def twice_forward(*a):
        o1, c1 = forward(*a, **kwargs)
        o2, c2 = forward(*a, **kwargs)
        return o1 + o2, (c1, c2)

    def twice_backward(dout, caches):
        g1 = as_tuple(backward(dout, caches[0]))
        g2 = as_tuple(backward(dout, caches[1]))
        return tuple(None if a is None else a + b for a, b in zip(g1, g2))

    return check_gradients(twice_forward, twice_backward, inputs, wrt=wrt, rng=rng)


# -- whole models (Modules) ------------------------------------------------------------------
def to_float64(model):
    """Every parameter and running statistic of ``model`` in float64, in place."""
    for _, m in model.named_modules():
        for store in (m.params, m.buffers):
            for k, v in store.items():
                if np.issubdtype(v.dtype, np.floating):
                    store[k] = v.astype(np.float64)
    model.zero_grad()
    return model


def module_as_kernel(module):
    """A Module as a kernel pair in (x, *parameters), for ``check_gradients``.

    ``forward`` writes the parameter values into the module (in place) and runs it;
    ``backward`` returns dx and every parameter's gradient, in ``module.parameters()``
    order. Returns ``(forward, backward, copies of the parameters)``.
    """
    arrays = [p[k] for p, _, k in module.parameters()]

    def forward(x, *values):
        for a, v in zip(arrays, values):
            a[...] = v
        module.zero_grad()
        return module.forward(x), None

    def backward(dout, _):
        return (module.backward(dout), *[g[k] for _, g, k in module.parameters()])

    return forward, backward, [a.copy() for a in arrays]


def named_grads(model):
    return {(f"{name}.{k}" if name else k): m.grads[k]
            for name, m in model.named_modules() for k in m.params}


def load_into_torch(ours, theirs):
    """Copy our state into the twin; this also checks that every name agrees."""
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def assert_grads_match(ours, theirs, atol=1e-10):
    t_params = dict(theirs.named_parameters())
    grads = named_grads(ours)
    assert list(grads) == list(t_params)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, t_params[name].grad.numpy(), rtol=0, atol=atol, err_msg=name)


def check_model_against_torch(ours, theirs, x, *, steps=2, rng=0, grad_atol=1e-10):
    """forward and backward ``steps`` times (zero_grad each time): output, dx, every
    parameter's gradient (to ``grad_atol``) and every buffer equal PyTorch's to 1e-10."""
    rng = np.random.default_rng(rng)
    load_into_torch(ours, theirs)
    for _ in range(steps):
        ours.zero_grad()
        theirs.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        out_t = theirs(xt)
        dout = rng.standard_normal(out_t.shape)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(ours.forward(x), out_t.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), rtol=0, atol=1e-10)
        assert_grads_match(ours, theirs, atol=grad_atol)
        for k, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=0, atol=1e-10, err_msg=k)
    assert all(not m._caches for _, m in ours.named_modules())  # every cache was consumed


class TorchResidual(torch.nn.Module):
    """x + block(x), the twin of ``cnnbook.Residual``."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)
