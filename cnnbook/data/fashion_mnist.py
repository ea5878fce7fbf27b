"""Fashion-MNIST: found, verified and parsed. See chapters 1, 4 and 6.

Fashion-MNIST is searched in this order: the ``data_dir`` argument, ``$CNNBOOK_DATA``,
``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``),
the user cache (``pooch.os_cache("cnnbook")``), and last it is downloaded into that
cache with a pinned SHA-256. Every file is verified wherever it comes from.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import zlib
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist_paths", "load_fashion_mnist"]

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
    """What was looked at (with what was found there) and the ways to get a copy."""
    where = "".join(f"\n  - {place}" for place in looked)
    system = [_find_file(_SYSTEM_DIR, name) for name in _SHA256]
    apt = ("sudo apt install --reinstall dataset-fashion-mnist" if any(system)
           else "sudo apt install dataset-fashion-mnist")
    return (
        f"Fashion-MNIST was not found. Looked in:{where}\n"
        "Get a copy in one of these ways:\n"
        f"  1. Debian/Ubuntu: {apt}\n"
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


def _what_is_there(folder: Path, names) -> str:
    """What ``folder`` holds instead of the files ``names``, for an error message."""
    if folder.is_symlink() and not folder.exists():
        return f"{folder} is a broken symbolic link (to {os.readlink(folder)})"
    if not folder.exists():
        return "folder does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    for name in names:
        if _find_file(folder, name) is None:
            gz = folder / f"{name}.gz"
            if gz.is_symlink() and not gz.exists():
                return f"{gz} is a broken symbolic link (to {os.readlink(gz)})"
            if gz.exists():
                return f"{gz} is a folder, not a file" if gz.is_dir() else f"{gz} is not a file"
            return f"{gz} is missing"
    return "all files are there"


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
    A folder given by ``data_dir`` or ``$CNNBOOK_DATA`` must hold the files. See chapter 1.
    """
    func = "fashion_mnist_paths"
    if not isinstance(split, str) or split not in _SPLITS:
        raise ValueError(f"{func}: split must be one of {tuple(_SPLITS)}, got {split!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"{func}: data_dir must be a folder path (str or pathlib.Path) or None, "
                        f"got {type(data_dir).__name__} {data_dir!r}")
    if not isinstance(download, (bool, np.bool_)):
        raise TypeError(f"{func}: download must be True or False, got {download!r}")
    prefix = _SPLITS[split][0]
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if data_dir is not None or os.environ.get("CNNBOOK_DATA"):
        folder, origin = ((data_dir, "data_dir") if data_dir is not None
                          else (os.environ["CNNBOOK_DATA"], "$CNNBOOK_DATA"))
        folder = Path(folder).expanduser()
        found = [_find_file(folder, name) for name in names]
        if not all(found):
            what = _what_is_there(folder, names)
            problem = f"{func}: {origin}={str(folder)!r} does not hold Fashion-MNIST ({what})."
            for other in (_SYSTEM_DIR, _cache_dir()):
                if all(_find_file(other, name) for name in names):  # say so, rather than "install"
                    use = ("unset CNNBOOK_DATA" if origin == "$CNNBOOK_DATA"
                           else "leave out data_dir")
                    raise FileNotFoundError(
                        f"{problem}\nA copy of the {split!r} split is in {other}: {use} to use it, "
                        f"or put the files {names[0]}.gz and {names[1]}.gz into {folder}.")
            raise FileNotFoundError(f"{problem}\n" + _how_to_get_it([f"{folder} ({origin}): {what}"]))
        return tuple(found)
    cache = _cache_dir()
    for folder in (_SYSTEM_DIR, cache):
        found = [_find_file(folder, name) for name in names]
        if all(found):
            return tuple(found)
    looked = [f"{_SYSTEM_DIR} (Debian package): {_what_is_there(_SYSTEM_DIR, names)}",
              f"{cache} (user cache): {_what_is_there(cache, names)}"]
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


def _gunzip(raw: bytes, limit: int, path: Path) -> bytes:
    """``gzip.decompress(raw)`` that stops once the output passes ``limit`` bytes, so a damaged
    or hostile file (a "gzip bomb") cannot fill the memory. EOFError when it ends early."""
    parts, total = [], 0
    while True:  # one gzip member after another, as gzip.decompress
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer checked too
        parts.append(member.decompress(raw, limit + 1 - total))  # at most limit + 1 in all
        total += len(parts[-1])
        if total > limit:
            raise ValueError(f"{path}: checksum mismatch, it decompresses to more than {limit} "
                             f"bytes, the size of this Fashion-MNIST file (damaged, or not "
                             f"Fashion-MNIST; decompression stopped there). {_advice(path)}")
        if not member.eof:
            raise EOFError
        raw = member.unused_data.lstrip(b"\x00")
        if not raw:
            return b"".join(parts)


@functools.lru_cache(maxsize=8)
def _read_idx(path_str: str, name: str, size: int, mtime_ns: int, count: int) -> np.ndarray:
    """Verified uint8 array of the IDX file ``name``, (count,) or (count, 28, 28). Memoized per
    process: the key includes size and mtime, so a replaced file is read (and checked) again."""
    path = Path(path_str)
    official_gz, debian_gz, content_sha = _SHA256[name]
    labels = "labels" in name
    magic, dims = (2049, ()) if labels else (2051, (28, 28))
    header = 8 + 4 * len(dims)
    shape = (count, *dims)
    expected = header + int(np.prod(shape))  # bytes of the IDX content
    if size > expected + expected // 100 + 4096:  # a gzip of it is never larger than that
        raise ValueError(f"{path}: {size} bytes, larger than any copy of {name} can be (its "
                         f"content has {expected} bytes): not a Fashion-MNIST file. {_advice(path)}")
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise PermissionError(f"{path}: permission denied, this user cannot read the file. Make it "
                              f"readable (chmod a+r {path}), or: {_advice(path)}") from None
    trusted = False
    if path.suffix == ".gz":
        trusted = hashlib.sha256(raw).hexdigest() in (official_gz, debian_gz)
        try:
            raw = _gunzip(raw, expected, path)
        except EOFError:
            raise ValueError(f"{path}: truncated gzip file (checksum mismatch: it ends early, "
                             f"after {size} bytes). {_advice(path)}") from None
        except zlib.error as exc:
            raise ValueError(f"{path}: checksum mismatch, the gzip data is corrupted ({exc}). "
                             f"{_advice(path)}") from None
    if len(raw) < header:
        raise ValueError(f"{path}: truncated, only {len(raw)} bytes (an IDX header has {header}). "
                         f"{_advice(path)}")
    fields = np.frombuffer(raw, dtype=">u4", count=header // 4)  # magic, count, rows, cols
    if fields[0] != magic:
        raise ValueError(f"{path}: bad magic number {int(fields[0])}, expected {magic} "
                         f"(an IDX {'label' if labels else 'image'} file). {_advice(path)}")
    if tuple(int(v) for v in fields[1:]) != shape or len(raw) != expected:
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
