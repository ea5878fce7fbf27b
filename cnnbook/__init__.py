"""cnnbook: the companion package of the CNN Book.

Hand-written, vectorized NumPy kernels (``<op>_forward`` / ``<op>_backward`` pairs), thin
``Module`` layers on top, and the learner's tools (data, training, plots, exercises).
Names follow ``torch.nn.functional`` and ``torch.nn`` so that moving to PyTorch is easy.
"""
from .module import Module, Sequential
from .dense import Dense, dense_forward, dense_backward
from .activations import (
    Identity, BinaryStep, Sigmoid, Tanh, ReLU,
    identity_forward, identity_backward, binary_step_forward, binary_step_backward,
    sigmoid, sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward,
    relu_forward, relu_backward,
)
from .gradcheck import check_gradients, numerical_gradient, relative_error

__version__ = "0.1.0"
