"""Models built from the book's layers, one home each, used by the chapters and the
benchmarks alike."""
from .lenet import lenet, lenet_bn
from .rcnn import rcnn
from .resnet import residual_stack
from .unet import unet

__all__ = ["lenet", "lenet_bn", "rcnn", "residual_stack", "unet"]
