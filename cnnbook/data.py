"""Data for the book: Fashion-MNIST (found, verified, parsed) and seeded toy sets.

Fashion-MNIST is searched in this order: the ``data_dir`` argument, ``$CNNBOOK_DATA``,
``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``),
the user cache (``pooch.os_cache("cnnbook")``), and last it is downloaded into that
cache with a pinned SHA-256. Every file is verified wherever it comes from.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import numbers
import os
import shutil
import zlib
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

from ._checks import positive_int
from .init import make_rng

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_MIRRORS = (  # tried in order; a mirror whose file fails the checksum is skipped
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
_SPLITS = {"train": ("train", 60_000), "test": ("t10k", 10_000)}
# Per file: SHA-256 of the .gz as Zalando publishes it (what a download must match),
# of the Debian package's .gz (re-compressed upstream: other bytes, same content), and of
# the uncompressed IDX content (accepts any other gzip of it, or an un-gzipped file).
_SHA256 = {
    "train-images-idx3-ubyte": (
        "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": (
        "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": (
        "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": (
        "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
_ALL_FILES = ", ".join(f"{name}.gz" for name in _SHA256)


def _cache_dir() -> Path:
    import pooch  # imported late: toy data must not need it
    return Path(pooch.os_cache("cnnbook")) / "fashion-mnist"


def _how_to_get_it(looked: list[str]) -> str:
    where = "".join(f"\n  - {place}" for place in looked)
    return (
        f"Fashion-MNIST was not found. Looked in:{where}\n"
        "Get a copy in one of these ways:\n"
        "  1. Debian/Ubuntu: sudo apt install dataset-fashion-mnist\n"
        f"     (installs the files into {_SYSTEM_DIR})\n"
        "  2. Set the environment variable CNNBOOK_DATA to a folder holding the 4 files\n"
        f"     {_ALL_FILES}\n"
        f"  3. Download them from {' or '.join(_MIRRORS)}\n"
        f"     into {_cache_dir()}, or call load_fashion_mnist(download=True) when online."
    )


def _find_file(folder: Path, name: str) -> Path | None:
    """``name.gz`` in ``folder``, or the un-gzipped ``name`` (as e.g. Kaggle ships it)."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _download(name: str, folder: Path) -> tuple[Path | None, list[str]]:
    """Fetch ``name.gz`` into ``folder`` from the first mirror that works; pooch checks the hash."""
    import pooch
    progress = os.environ.get("CNNBOOK_PROGRESS", "").lower() != "off"
    errors = []
    for base in _MIRRORS:
        url = base + name + ".gz"
        if url.startswith("file:"):
            downloader = _copy_file_url  # local mirrors (a USB stick, a lab share, tests)
        else:
            downloader = pooch.HTTPDownloader(progressbar=progress, timeout=60)
        try:
            path = pooch.retrieve(url, known_hash=f"sha256:{_SHA256[name][0]}", fname=f"{name}.gz",
                                  path=folder, downloader=downloader, progressbar=progress)
            return Path(path), errors
        except Exception as exc:  # network down, HTTP error, checksum mismatch: next mirror
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
    return None, errors


def _copy_file_url(url: str, output_file, pooch_obj=None) -> None:
    """A pooch downloader for ``file://`` URLs."""
    shutil.copyfile(url2pathname(urlparse(url).path), output_file)


def fashion_mnist_paths(split: str = "train", *, data_dir=None, download: bool = True):
    """Locate (download if needed) the Fashion-MNIST files of a split.

    Returns ``(images_path, labels_path)``; the search order is in the module docstring.
    A folder given by ``data_dir`` or ``$CNNBOOK_DATA`` must hold the files.
    """
    func = "fashion_mnist_paths"
    if not isinstance(split, str) or split not in _SPLITS:
        raise ValueError(f"{func}: split must be one of {tuple(_SPLITS)}, got {split!r}")
    prefix = _SPLITS[split][0]
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if data_dir is not None or os.environ.get("CNNBOOK_DATA"):
        folder, origin = ((data_dir, "data_dir") if data_dir is not None
                          else (os.environ["CNNBOOK_DATA"], "$CNNBOOK_DATA"))
        folder = Path(folder).expanduser()
        found = [_find_file(folder, name) for name in names]
        for name, path in zip(names, found):
            if path is None:
                what = "folder does not exist" if not folder.is_dir() else f"{folder / name}.gz is missing"
                raise FileNotFoundError(
                    f"{func}: {origin}={str(folder)!r} does not hold Fashion-MNIST ({what}).\n"
                    + _how_to_get_it([f"{folder} ({origin})"]))
        return tuple(found)
    cache = _cache_dir()
    looked = [f"{_SYSTEM_DIR} (Debian package)", f"{cache} (user cache)"]
    for folder in (_SYSTEM_DIR, cache):
        found = [_find_file(folder, name) for name in names]
        if all(found):
            return tuple(found)
    if not download:
        raise FileNotFoundError(f"{func}: download=False and no local copy.\n" + _how_to_get_it(looked))
    found, errors = [], []
    for name in names:
        path = _find_file(cache, name)
        if path is None:
            path, errs = _download(name, cache)
            errors += errs
            if path is None:
                raise FileNotFoundError(
                    f"{func}: downloading {name}.gz failed:\n  " + "\n  ".join(errors)
                    + "\n" + _how_to_get_it(looked))
        found.append(path)
    return tuple(found)


def _advice(path: Path) -> str:
    if path.parent == _SYSTEM_DIR:
        return "Reinstall the Debian package: sudo apt install --reinstall dataset-fashion-mnist"
    if path.parent == _cache_dir():
        return f"Delete {path} and run again: a fresh copy is downloaded."
    return (f"Delete {path} and put a good copy there, or leave out data_dir / unset "
            "CNNBOOK_DATA so that the book finds or downloads its own copy.")


@functools.lru_cache(maxsize=8)
def _read_idx(path_str: str, name: str, size: int, mtime_ns: int, count: int) -> np.ndarray:
    """Verified uint8 array of the IDX file ``name``, (count,) or (count, 28, 28). Memoized per
    process: the key includes size and mtime, so a replaced file is read (and checked) again."""
    path = Path(path_str)
    official_gz, debian_gz, content_sha = _SHA256[name]
    raw = path.read_bytes()
    trusted = False
    if path.suffix == ".gz":
        trusted = hashlib.sha256(raw).hexdigest() in (official_gz, debian_gz)
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise ValueError(f"{path}: truncated gzip file (checksum mismatch: it ends early, "
                             f"after {size} bytes). {_advice(path)}") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise ValueError(f"{path}: checksum mismatch, the gzip data is corrupted ({exc}). "
                             f"{_advice(path)}") from None
    labels = "labels" in name
    magic, dims = (2049, ()) if labels else (2051, (28, 28))
    header = 8 + 4 * len(dims)
    if len(raw) < header:
        raise ValueError(f"{path}: truncated, only {len(raw)} bytes (an IDX header has {header}). "
                         f"{_advice(path)}")
    fields = np.frombuffer(raw, dtype=">u4", count=header // 4)  # magic, count, rows, cols
    if fields[0] != magic:
        raise ValueError(f"{path}: bad magic number {int(fields[0])}, expected {magic} "
                         f"(an IDX {'label' if labels else 'image'} file). {_advice(path)}")
    shape = (count, *dims)
    if tuple(int(v) for v in fields[1:]) != shape or len(raw) != header + int(np.prod(shape)):
        raise ValueError(
            f"{path}: wrong count: header says {tuple(int(v) for v in fields[1:])} and the file holds "
            f"{len(raw) - header} bytes of data, expected {shape} ({int(np.prod(shape))} bytes). "
            f"{_advice(path)}")
    if not trusted and hashlib.sha256(raw).hexdigest() != content_sha:
        raise ValueError(f"{path}: checksum mismatch (SHA-256 of the content differs from the "
                         f"official Fashion-MNIST file). {_advice(path)}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)  # (N,) or (N, 28, 28)
    data.flags.writeable = False  # shared by every later call; callers get copies
    return data


def load_fashion_mnist(split: str = "train", *, data_dir=None, download: bool = True):
    """Fashion-MNIST images and labels (found, verified and parsed; see the module docstring).

    images: float32 (N, 28, 28) in [0, 1] (pixel / 255); labels: int64 (N,) in 0..9,
    names in ``FASHION_MNIST_CLASSES``. N = 60,000 for "train", 10,000 for "test".
    The arrays are fresh on every call, so changing them is safe. See chapter 1.
    """
    if not isinstance(split, str) or split not in _SPLITS:
        raise ValueError(f"load_fashion_mnist: split must be one of {tuple(_SPLITS)}, got {split!r}")
    count = _SPLITS[split][1]
    arrays = []
    prefix = _SPLITS[split][0]
    paths = fashion_mnist_paths(split, data_dir=data_dir, download=download)
    for path, name in zip(paths, (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")):
        stat = path.stat()
        arrays.append(_read_idx(str(path.absolute()), name, stat.st_size, stat.st_mtime_ns, count))
    images = np.divide(arrays[0], np.float32(255), dtype=np.float32)  # (N, 28, 28)
    return images, arrays[1].astype(np.int64)


# ---------------------------------------------------------------- toy data (seeded)

def _noise(value, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{func}: noise must be a finite number >= 0, got {value!r}")
    return float(value)


def _shuffled(X, y, rng):
    order = rng.permutation(len(y))
    return X[order], y[order].astype(np.int64)


def make_xor(n: int = 200, *, noise: float = 0.1, rng=None):
    """XOR: Gaussian clusters (std ``noise``) at the corners of the unit square, y = x1 XOR x2.

    Corners (0,0),(1,1) have label 0 and (0,1),(1,0) label 1; points are dealt to the
    corners in turn, so class sizes differ by at most one. Returns X (n, 2) float64,
    y (n,) int64, in shuffled order. See chapters 1 and 3.
    """
    n = positive_int(n, "n", "make_xor", minimum=4)
    noise, rng = _noise(noise, "make_xor"), make_rng(rng)
    corners = np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float64)
    which = np.arange(n) % 4
    X = corners[which] + noise * rng.standard_normal((n, 2))  # (n, 2)
    y = corners[which, 0].astype(np.int64) ^ corners[which, 1].astype(np.int64)
    return _shuffled(X, y, rng)


def make_moons(n: int = 200, *, noise: float = 0.1, rng=None):
    """Two interleaving half circles, as ``sklearn.datasets.make_moons``.

    Upper moon (cos t, sin t), label 0; lower moon (1 - cos t, 0.5 - sin t), label 1;
    t evenly spaced in [0, pi], plus Gaussian noise of std ``noise``.
    Returns X (n, 2) float64, y (n,) int64, in shuffled order. See chapter 3.
    """
    n = positive_int(n, "n", "make_moons", minimum=2)
    noise, rng = _noise(noise, "make_moons"), make_rng(rng)
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)])  # (n, 2)
    X += noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n_out, n - n_out])
    return _shuffled(X, y, rng)


def make_spirals(n: int = 300, *, classes: int = 3, noise: float = 0.2, rng=None):
    """``classes`` interleaved spiral arms (the CS231n spiral data set).

    Arm k: radius r evenly spaced in [0, 1], angle t = 4 k + 4 r + noise * N(0, 1),
    point r (sin t, cos t). Class sizes differ by at most one.
    Returns X (n, 2) float64, y (n,) int64, in shuffled order. See chapter 3.
    """
    classes = positive_int(classes, "classes", "make_spirals", minimum=2)
    n = positive_int(n, "n", "make_spirals", minimum=classes)
    noise, rng = _noise(noise, "make_spirals"), make_rng(rng)
    sizes = np.full(classes, n // classes) + (np.arange(classes) < n % classes)
    r = np.concatenate([np.linspace(0.0, 1.0, m) for m in sizes])  # (n,)
    y = np.repeat(np.arange(classes), sizes)
    t = 4.0 * y + 4.0 * r + noise * rng.standard_normal(n)
    X = r[:, None] * np.stack([np.sin(t), np.cos(t)], axis=1)  # (n, 2)
    return _shuffled(X, y, rng)


def iterate_minibatches(X, y, batch_size: int, *, shuffle: bool = True, rng=None):
    """Yield ``(X[idx], y[idx])`` batches of ``batch_size`` rows (the last may be smaller).

    With ``shuffle`` the rows are visited in ``rng.permutation(N)`` order, so a seed
    gives the same batches every time. See chapter 4.
    """
    func = "iterate_minibatches"
    X, y = np.asarray(X), np.asarray(y)
    batch_size = positive_int(batch_size, "batch_size", func)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"{func}: X and y must have the same number of rows, "
                         f"got X.shape={X.shape} and y.shape={y.shape}")
    order = make_rng(rng).permutation(len(X)) if shuffle else None

    def batches():
        for start in range(0, len(X), batch_size):
            if order is None:
                yield X[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield X[idx], y[idx]
    return batches()


def shift_images(images, dx: int, dy: int):
    """Translate images by whole pixels with zero fill (no wrap-around).

    out[..., i, j] = images[..., i - dy, j - dx] where that lies inside, else 0:
    dx > 0 moves content right, dy > 0 moves it down. images: (N, H, W) or (N, C, H, W)
    (any array whose last two axes are H, W); dtype is kept. See chapters 1, 4 and 6.
    """
    func = "shift_images"
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"{func}: images must have at least 2 dimensions (..., H, W), "
                         f"got images.shape={images.shape}")
    for name, value in (("dx", dx), ("dy", dy)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{func}: {name} must be an integer number of pixels, got {value!r}")
    H, W = images.shape[-2:]
    out = np.zeros_like(images)
    if abs(dy) < H and abs(dx) < W:
        dst = (Ellipsis, slice(max(dy, 0), H + min(dy, 0)), slice(max(dx, 0), W + min(dx, 0)))
        src = (Ellipsis, slice(max(-dy, 0), H + min(-dy, 0)), slice(max(-dx, 0), W + min(-dx, 0)))
        out[dst] = images[src]
    return out
