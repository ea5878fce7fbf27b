"""Models built from the book's layers, one home each, used by the chapters and the
benchmarks alike."""
from .lenet import lenet
from .unet import unet

__all__ = ["lenet", "unet"]
