"""cnnbook: the companion package of the CNN Book.

Hand-written, vectorized NumPy kernels (``<op>_forward`` / ``<op>_backward`` pairs), thin
``Module`` layers on top, and the learner's tools (data, training, plots, exercises).
Names follow ``torch.nn.functional`` and ``torch.nn`` so that moving to PyTorch is easy.
"""
from .module import Module, Sequential, no_grad
from .dense import Dense, dense_forward, dense_backward
from .activations import (
    Identity, BinaryStep, Sigmoid, Tanh, ArcTan, ReLU, LeakyReLU, PReLU, ELU, Softplus,
    Softmax, LogSoftmax,
    identity_forward, identity_backward, binary_step_forward, binary_step_backward,
    sigmoid, sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward,
    arctan_forward, arctan_backward, relu_forward, relu_backward,
    leaky_relu_forward, leaky_relu_backward, prelu_forward, prelu_backward,
    elu_forward, elu_backward, softplus_forward, softplus_backward,
    softmax_forward, softmax_backward, log_softmax_forward, log_softmax_backward,
)
from .radial import (
    Ridge, RadialBasis, ridge_forward, ridge_backward,
    gaussian_rbf_forward, gaussian_rbf_backward, multiquadric_forward, multiquadric_backward,
    inverse_multiquadric_forward, inverse_multiquadric_backward,
)
from .conv import (
    Conv1d, Conv2d, conv1d_forward, conv1d_backward, conv2d_forward, conv2d_backward,
    conv2d_forward_naive, conv2d_backward_naive, correlate2d, convolve2d,
)
from .conv_transpose import ConvTranspose2d, conv_transpose2d_forward, conv_transpose2d_backward
from ._im2col import col2im, conv_output_size, im2col
from .pool import (
    MaxPool2d, AvgPool2d, GlobalAvgPool2d, max_pool2d_forward, max_pool2d_backward,
    max_pool2d_forward_naive, max_pool2d_backward_naive, avg_pool2d_forward, avg_pool2d_backward, global_avg_pool2d_forward, global_avg_pool2d_backward,
)
from .flatten import Flatten, flatten_forward, flatten_backward
from .batchnorm import (
    BatchNorm1d, BatchNorm2d, batch_norm_forward, batch_norm_backward, batch_norm_forward_naive,
    batch_norm_backward_naive,
)
from .layernorm import LayerNorm, layer_norm_forward, layer_norm_backward
from .dropout import Dropout, dropout_forward, dropout_backward
from .dropout import Dropout2d, dropout2d_forward, dropout2d_backward
from .skip import Residual, ConcatSkip, concat_forward, concat_backward
from .attention import (
    MultiheadAttention, scaled_dot_product_attention_forward, scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward_naive, scaled_dot_product_attention_backward_naive,
    multi_head_attention_forward, multi_head_attention_backward,
)
from .activations import GELU, gelu_forward, gelu_backward
from .positional import (
    sinusoidal_embedding, SinusoidalPositionalEmbedding, LearnedPositionalEmbedding,
)
from .transformer import EncoderBlock
from .losses import (
    mse_loss, half_sum_squared_error, quadratic_loss, zero_one_loss, binary_cross_entropy,
    binary_cross_entropy_with_logits, cross_entropy, one_hot, accuracy,
)
from .segmentation import iou_score, dice_score, dice_loss
from .optim import Optimizer, SGD, Adagrad, RMSprop, Adam, descent_path
from .autograd import Value
from .train import fit, evaluate, predict, History
from .data import (
    load_fashion_mnist, fashion_mnist_paths, FASHION_MNIST_CLASSES,
    make_xor, make_moons, make_spirals, iterate_minibatches, shift_images,
)
# chapter 9: recurrent convolutional networks
from .lrn import LocalResponseNorm, local_response_norm_forward, local_response_norm_backward
from .recurrent import RecurrentConv2d
from .data import make_lines_and_disks
from .exercises import check, hint, progress, ExerciseFailed
from .gradcheck import check_gradients, numerical_gradient, relative_error
from .receptive_field import (
    layer_geometry, receptive_field, receptive_fields, gradient_map, gradient_extent,
)
from . import models
from .models import lenet
from .models import unet

__version__ = "0.1.0"

__all__ = [
    "Module", "Sequential", "no_grad", "Dense", "dense_forward", "dense_backward", "Identity",
    "BinaryStep", "Sigmoid", "Tanh", "ArcTan", "ReLU", "LeakyReLU", "PReLU", "ELU",
    "Softplus", "Softmax", "LogSoftmax", "identity_forward", "identity_backward",
    "binary_step_forward", "binary_step_backward", "sigmoid", "sigmoid_forward",
    "sigmoid_backward", "tanh_forward", "tanh_backward", "arctan_forward",
    "arctan_backward", "relu_forward", "relu_backward", "leaky_relu_forward",
    "leaky_relu_backward", "prelu_forward", "prelu_backward", "elu_forward",
    "elu_backward", "softplus_forward", "softplus_backward", "softmax_forward",
    "softmax_backward", "log_softmax_forward", "log_softmax_backward", "Ridge",
    "RadialBasis", "ridge_forward", "ridge_backward", "gaussian_rbf_forward",
    "gaussian_rbf_backward", "multiquadric_forward", "multiquadric_backward",
    "inverse_multiquadric_forward", "inverse_multiquadric_backward", "Conv1d", "Conv2d",
    "conv1d_forward", "conv1d_backward", "conv2d_forward", "conv2d_backward",
    "conv2d_forward_naive", "conv2d_backward_naive", "correlate2d", "convolve2d",
    "ConvTranspose2d", "conv_transpose2d_forward", "conv_transpose2d_backward",
    "col2im", "conv_output_size", "im2col", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d",
    "max_pool2d_forward", "max_pool2d_backward", "max_pool2d_forward_naive",
    "max_pool2d_backward_naive", "avg_pool2d_forward",
    "avg_pool2d_backward", "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "Flatten", "flatten_forward", "flatten_backward", "BatchNorm1d", "BatchNorm2d",
    "batch_norm_forward", "batch_norm_backward", "batch_norm_forward_naive",
    "batch_norm_backward_naive", "LayerNorm", "layer_norm_forward",
    "layer_norm_backward", "Dropout", "dropout_forward", "dropout_backward",
    "Dropout2d", "dropout2d_forward", "dropout2d_backward", "Residual",
    "ConcatSkip", "concat_forward", "concat_backward",
    "MultiheadAttention", "scaled_dot_product_attention_forward",
    "scaled_dot_product_attention_backward", "scaled_dot_product_attention_forward_naive",
    "scaled_dot_product_attention_backward_naive", "multi_head_attention_forward",
    "multi_head_attention_backward", "GELU", "gelu_forward", "gelu_backward",
    "sinusoidal_embedding", "SinusoidalPositionalEmbedding", "LearnedPositionalEmbedding",
    "EncoderBlock", "mse_loss", "half_sum_squared_error",
    "quadratic_loss", "zero_one_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "one_hot", "accuracy",
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "descent_path", "Value", "fit",
    "evaluate", "predict", "History", "load_fashion_mnist", "fashion_mnist_paths",
    "FASHION_MNIST_CLASSES", "make_xor", "make_moons", "make_spirals",
    "iterate_minibatches", "shift_images", "check", "hint", "progress", "ExerciseFailed",
    "check_gradients", "numerical_gradient", "relative_error", "models", "lenet", "__version__",
    # chapter 9
    "LocalResponseNorm", "local_response_norm_forward", "local_response_norm_backward",
    "RecurrentConv2d",
    # chapter 8
    "layer_geometry", "receptive_field", "receptive_fields", "gradient_map", "gradient_extent",
    # chapter 12
    "iou_score", "dice_score", "dice_loss", "make_lines_and_disks", "unet",
]
