"""Data for the book: Fashion-MNIST (real images) and seeded toy sets.

``load_fashion_mnist`` finds, verifies and parses Fashion-MNIST; the toy sets (XOR,
moons, spirals, lines among disks) are drawn from a seeded generator. See chapters 1,
3, 4, 6 and 12.
"""
from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist_paths, load_fashion_mnist
from .shapes import make_lines_and_disks
from .toy import iterate_minibatches, make_moons, make_spirals, make_xor, shift_images

__all__ = [
    "FASHION_MNIST_CLASSES", "fashion_mnist_paths", "load_fashion_mnist",
    "iterate_minibatches", "make_lines_and_disks", "make_moons", "make_spirals", "make_xor", "shift_images",
]
