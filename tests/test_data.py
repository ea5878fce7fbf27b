"""Tests of cnnbook.data: Fashion-MNIST loading from local files only (never the network),
its search order and error messages, the seeded toy data, minibatches and shift_images."""
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnbook import data
from cnnbook.data import fashion_mnist as fm

SYSTEM = Path("/usr/share/datasets/fashion-mnist")
needs_debian_copy = pytest.mark.skipif(
    not (SYSTEM / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $CNNBOOK_DATA, an empty system folder and cache, and mirrors that do not exist."""
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)
    monkeypatch.setenv("CNNBOOK_PROGRESS", "off")
    system, cache = tmp_path / "system", tmp_path / "cache"
    system.mkdir()
    monkeypatch.setattr(fm, "_SYSTEM_DIR", system)
    monkeypatch.setattr(fm, "_cache_dir", lambda: cache)
    monkeypatch.setattr(fm, "_MIRRORS", ((tmp_path / "nowhere").as_uri() + "/",
                                           (tmp_path / "nowhere2").as_uri() + "/"))
    return tmp_path


def copy_of_test_split(folder: Path, labels_bytes: bytes | None = None) -> Path:
    """A folder with the real test images (symlink) and the test labels (copied or given)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TEST_FILES[0]).symlink_to(SYSTEM / TEST_FILES[0])
    if labels_bytes is None:
        shutil.copyfile(SYSTEM / LABELS, folder / LABELS)
    else:
        (folder / LABELS).write_bytes(labels_bytes)
    return folder


def real_labels_content() -> bytes:
    return gzip.decompress((SYSTEM / LABELS).read_bytes())


# ------------------------------------------------------------------ the real data

@needs_debian_copy
@pytest.mark.parametrize("split, n", [("train", 60_000), ("test", 10_000)])
def test_real_copy(split, n, monkeypatch):
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)
    images, labels = data.load_fashion_mnist(split, download=False)
    assert images.shape == (n, 28, 28) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, n // 10))
    if split == "train":
        assert labels[0] == 9 and data.FASHION_MNIST_CLASSES[labels[0]] == "Ankle boot"


@needs_debian_copy
def test_fresh_arrays_and_memoized(monkeypatch):
    monkeypatch.delenv("CNNBOOK_DATA", raising=False)
    images, labels = data.load_fashion_mnist("test", download=False)
    hits = fm._read_idx.cache_info().hits
    images[:] = -1.0  # learners may change what they get...
    labels[:] = -1
    again, labels_again = data.load_fashion_mnist("test", download=False)
    assert again.min() == 0.0 and labels_again.min() == 0  # ...without changing the next load
    assert fm._read_idx.cache_info().hits == hits + 2  # second load: no re-read, no re-hash
    assert again.flags.writeable and labels_again.flags.writeable


def test_classes():
    assert data.FASHION_MNIST_CLASSES == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.mark.parametrize("split", ["training", "val", None])
def test_bad_split(split):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\)"):
        data.load_fashion_mnist(split)


# ------------------------------------------------------------------ broken copies

def _load_broken(folder, labels_bytes):
    copy_of_test_split(folder, labels_bytes)
    with pytest.raises(ValueError) as info:
        data.load_fashion_mnist("test", data_dir=folder)
    message = str(info.value)
    assert str(folder / LABELS) in message
    assert f"Delete {folder / LABELS} and put a good copy there" in message
    return message


@needs_debian_copy
def test_truncated_file(tmp_path):
    good = (SYSTEM / LABELS).read_bytes()
    assert "truncated gzip" in _load_broken(tmp_path / "d", good[: len(good) // 2])


@needs_debian_copy
def test_flipped_byte(tmp_path):
    bad = bytearray((SYSTEM / LABELS).read_bytes())
    bad[len(bad) // 2] ^= 0xFF
    assert "checksum mismatch" in _load_broken(tmp_path / "d", bytes(bad))


@needs_debian_copy
def test_changed_content_in_valid_gzip(tmp_path):
    content = bytearray(real_labels_content())
    content[100] = (content[100] + 1) % 10  # a wrong label, still a well-formed IDX file
    assert "checksum mismatch" in _load_broken(tmp_path / "d", gzip.compress(bytes(content)))


@needs_debian_copy
def test_bad_magic(tmp_path):
    content = bytearray(real_labels_content())
    content[3] = 0x03  # 2051, the magic number of an image file
    message = _load_broken(tmp_path / "d", gzip.compress(bytes(content)))
    assert "bad magic number 2051, expected 2049" in message


@needs_debian_copy
def test_wrong_count(tmp_path):
    message = _load_broken(tmp_path / "d", gzip.compress(real_labels_content()[:-10]))
    assert "wrong count" in message and "(10000,)" in message


def test_gzip_bomb_is_decompressed_only_up_to_the_expected_size(tmp_path):
    """200 MB of zeros in a small gzip: reading stops past the 7,840,016 bytes of the images."""
    import tracemalloc
    bomb = tmp_path / "t10k-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(bytes(200_000_000), compresslevel=1))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="decompresses to more than 7840016 bytes"):
            fm._read_idx(str(bomb), "t10k-images-idx3-ubyte", bomb.stat().st_size, 0, 10_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"{peak / 1e6:.0f} MB held while reading"


def test_concatenated_gzip_members_are_read_like_gzip_decompress(tmp_path):
    content = b"\x00\x00\x08\x01" + (10_000).to_bytes(4, "big") + bytes(10_000)
    path = tmp_path / LABELS
    path.write_bytes(gzip.compress(content[:5000]) + gzip.compress(content[5000:]))
    assert fm._gunzip(path.read_bytes(), len(content), path) == content
    with pytest.raises(EOFError):
        fm._gunzip(path.read_bytes()[:-5], len(content), path)


@needs_debian_copy
def test_missing_file(tmp_path, monkeypatch):
    folder = copy_of_test_split(tmp_path / "d")
    (folder / LABELS).unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz is missing") as info:
        data.load_fashion_mnist("test", data_dir=folder)
    assert str(folder / LABELS) in str(info.value)
    # The Debian copy is installed: the message says so instead of "apt install"
    assert f"is in {SYSTEM}: leave out data_dir to use it" in str(info.value)
    assert "apt install" not in str(info.value)
    monkeypatch.setattr(fm, "_SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.setattr(fm, "_cache_dir", lambda: tmp_path / "no-cache")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz is missing") as info:
        data.load_fashion_mnist("test", data_dir=folder)
    assert "sudo apt install dataset-fashion-mnist" in str(info.value)


@needs_debian_copy
def test_broken_system_copy_says_reinstall(isolated):
    copy_of_test_split(fm._SYSTEM_DIR, b"\x1f\x8b\x08\x00")
    with pytest.raises(ValueError, match="apt install --reinstall dataset-fashion-mnist"):
        data.load_fashion_mnist("test")


@needs_debian_copy
def test_broken_cached_copy_says_delete_and_run_again(isolated):
    copy_of_test_split(fm._cache_dir(), (SYSTEM / LABELS).read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated gzip") as info:
        data.load_fashion_mnist("test")
    assert f"Delete {fm._cache_dir() / LABELS} and run again" in str(info.value)


@needs_debian_copy
def test_recompressed_or_plain_copy_accepted(tmp_path):
    """Other bytes, same content (another gzip, or un-gzipped): the content hash accepts it."""
    content = real_labels_content()
    folder = copy_of_test_split(tmp_path / "gz", gzip.compress(content, mtime=0))
    expected = data.load_fashion_mnist("test", download=False)[1]
    assert np.array_equal(data.load_fashion_mnist("test", data_dir=folder)[1], expected)
    plain = copy_of_test_split(tmp_path / "plain", b"")
    (plain / LABELS).unlink()
    (plain / LABELS.removesuffix(".gz")).write_bytes(content)
    assert np.array_equal(data.load_fashion_mnist("test", data_dir=plain)[1], expected)


# ------------------------------------------------------------------ where it looks

@needs_debian_copy
def test_search_order(isolated, monkeypatch):
    explicit, env = isolated / "explicit", isolated / "env"
    for folder in (explicit, env, fm._SYSTEM_DIR, fm._cache_dir()):
        copy_of_test_split(folder)
    monkeypatch.setenv("CNNBOOK_DATA", str(env))

    def used(**kwargs):
        images, labels = data.fashion_mnist_paths("test", download=False, **kwargs)
        assert images.parent == labels.parent
        return labels.parent

    assert used(data_dir=explicit) == explicit
    assert used() == env
    monkeypatch.delenv("CNNBOOK_DATA")
    assert used() == fm._SYSTEM_DIR
    (fm._SYSTEM_DIR / LABELS).unlink()  # an incomplete system copy is passed over
    assert used() == fm._cache_dir()
    assert data.load_fashion_mnist("test", download=False)[0].shape == (10_000, 28, 28)


@needs_debian_copy
def test_env_folder_must_hold_the_files(isolated, monkeypatch):
    copy_of_test_split(fm._SYSTEM_DIR)
    monkeypatch.setenv("CNNBOOK_DATA", str(isolated / "missing"))
    with pytest.raises(FileNotFoundError, match=r"\$CNNBOOK_DATA=.*folder does not exist"):
        data.load_fashion_mnist("test")


# ------------------------------------------------------------------ download

def _server(tmp_path) -> Path:
    """A folder served as a file:// mirror, holding the Debian copy of the test split."""
    server = tmp_path / "server"
    server.mkdir()
    for name in TEST_FILES:
        shutil.copyfile(SYSTEM / name, server / name)
    return server


def _trust_debian_bytes(monkeypatch):
    """Make the pinned download hashes those of the Debian copy the local mirror serves."""
    table = {name: (debian, debian, content) for name, (_, debian, content) in fm._SHA256.items()}
    monkeypatch.setattr(fm, "_SHA256", table)


@needs_debian_copy
def test_download_verifies_checksum(isolated, monkeypatch):
    server = _server(isolated)
    monkeypatch.setattr(fm, "_MIRRORS", ((isolated / "down").as_uri() + "/", server.as_uri() + "/"))
    # The Debian .gz bytes are not the official .gz: pooch must refuse them.
    with pytest.raises(FileNotFoundError, match="(?i)hash") as info:
        data.load_fashion_mnist("test")
    assert "sudo apt install dataset-fashion-mnist" in str(info.value)
    assert not list(fm._cache_dir().glob("*.gz"))  # nothing unverified is left in the cache
    _trust_debian_bytes(monkeypatch)
    images, labels = data.load_fashion_mnist("test")  # the first mirror fails, the second works
    assert images.shape == (10_000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10
    assert sorted(p.name for p in fm._cache_dir().iterdir()) == sorted(TEST_FILES)
    assert data.fashion_mnist_paths("test", download=False)[0].parent == fm._cache_dir()


@needs_debian_copy
def test_download_rejects_wrong_file(isolated, monkeypatch):
    server = _server(isolated)
    shutil.copyfile(SYSTEM / TEST_FILES[0], server / LABELS)  # images served as labels
    monkeypatch.setattr(fm, "_MIRRORS", (server.as_uri() + "/",))
    _trust_debian_bytes(monkeypatch)
    with pytest.raises(FileNotFoundError, match="downloading t10k-labels-idx1-ubyte.gz failed"):
        data.load_fashion_mnist("test")
    assert not (fm._cache_dir() / LABELS).exists()


def test_offline_without_copy_lists_the_ways(isolated):
    for kwargs in ({}, {"download": False}):
        with pytest.raises(FileNotFoundError) as info:
            data.load_fashion_mnist("train", **kwargs)
        message = str(info.value)
        assert "sudo apt install dataset-fashion-mnist" in message
        assert "CNNBOOK_DATA" in message and "train-images-idx3-ubyte.gz" in message
        assert all(mirror in message for mirror in fm._MIRRORS)
        assert str(fm._SYSTEM_DIR) in message and str(fm._cache_dir()) in message


def test_pinned_hashes_and_mirrors_look_right():
    assert fm._MIRRORS[0] == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    assert "zalandoresearch/fashion-mnist" in fm._MIRRORS[1]
    assert len(fm._SHA256) == 4
    for hashes in fm._SHA256.values():
        assert len(set(hashes)) == 3 and all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


# ------------------------------------------------------------------ toy data

@pytest.mark.parametrize("make, n, k", [(data.make_xor, 200, 2), (data.make_moons, 201, 2),
                                        (data.make_spirals, 301, 3)])
def test_toy_shapes_balance_determinism(make, n, k):
    X, y = make(n, rng=7)
    assert X.shape == (n, 2) and X.dtype == np.float64 and y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    X2, y2 = make(n, rng=np.random.default_rng(7))
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(n, rng=8)
    assert not np.array_equal(X, X3)


def test_xor_labels_follow_the_corners():
    X, y = data.make_xor(400, noise=0.05, rng=0)
    corner = np.rint(X).astype(int)
    assert np.array_equal(y, corner[:, 0] ^ corner[:, 1])


def test_moons_without_noise_lie_on_the_half_circles():
    X, y = data.make_moons(100, noise=0.0, rng=0)
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1) and (upper[:, 1] >= -1e-12).all()
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_spirals():
    X, y = data.make_spirals(500, classes=5, noise=0.0, rng=0)
    assert np.bincount(y).tolist() == [100] * 5 and np.hypot(X[:, 0], X[:, 1]).max() <= 1 + 1e-12


@pytest.mark.parametrize("call, error, text", [
    (lambda: data.make_xor(0), ValueError, "make_xor: n must be an integer >= 4"),
    (lambda: data.make_moons(2.5), TypeError, "make_moons: n must be an integer"),
    (lambda: data.make_moons(10, noise=-0.1), ValueError, "noise must be a finite number >= 0"),
    (lambda: data.make_spirals(10, classes=1), ValueError, "classes must be an integer >= 2"),
    (lambda: data.make_spirals(2, classes=3), ValueError, "n must be at least classes=3"),
])
def test_toy_bad_arguments(call, error, text):
    with pytest.raises(error, match=text):
        call()


# ------------------------------------------------------------------ minibatches

def test_minibatches_cover_everything_once():
    X, y = np.arange(23 * 2).reshape(23, 2), np.arange(23)
    batches = list(data.iterate_minibatches(X, y, 5, rng=1))
    assert [len(yb) for _, yb in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(23)) and seen.tolist() != list(range(23))
    assert all(np.array_equal(xb[:, 0] // 2, yb) for xb, yb in batches)
    again = np.concatenate([yb for _, yb in data.iterate_minibatches(X, y, 5, rng=1)])
    assert np.array_equal(seen, again)
    ordered = np.concatenate([yb for _, yb in data.iterate_minibatches(X, y, 5, shuffle=False)])
    assert ordered.tolist() == list(range(23))


def test_minibatches_bad_input_raises_at_call():
    with pytest.raises(ValueError, match="same number of rows"):
        data.iterate_minibatches(np.zeros((4, 2)), np.zeros(3), 2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        data.iterate_minibatches(np.zeros((4, 2)), np.zeros(4), 0)


# ------------------------------------------------------------------ shift_images

def shift_loop(images, dx, dy):
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 5, 7)])
@pytest.mark.parametrize("dx, dy", [(0, 0), (1, 0), (0, -2), (3, 2), (-6, 4), (7, 0), (0, -9)])
def test_shift_images_matches_loop(shape, dx, dy):
    images = np.random.default_rng(0).random(shape).astype(np.float32)
    out = data.shift_images(images, dx, dy)
    assert out.dtype == images.dtype and out.shape == images.shape
    assert np.array_equal(out, shift_loop(images, dx, dy))


def test_shift_images_bad_input():
    with pytest.raises(TypeError, match="dx must be an integer"):
        data.shift_images(np.zeros((1, 4, 4)), 1.5, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        data.shift_images(np.zeros(4), 1, 0)
