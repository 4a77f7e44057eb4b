"""Datasets for the book: Fashion-MNIST, MNIST, scikit-learn's digits and image patches.

Every loader returns the same :class:`Dataset`: flattened float32 rows in ``[0, 1]``, integer
labels, the image shape and the class names. See the preface, section *Data*.

Where Fashion-MNIST and MNIST come from, in order:

1. ``data_dir`` (argument), then ``$AELIB_DATA_DIR/<name>`` (``fashion-mnist`` or ``mnist``:
   the two datasets share file names), then the user cache
   ``~/.cache/aelib/<name>`` (``$XDG_CACHE_HOME`` respected);
2. system dataset folders (Debian's ``apt-get install dataset-fashion-mnist`` installs
   ``/usr/share/datasets/fashion-mnist``);
3. a download from the official mirrors into the user cache, verified by SHA-256, retried, and
   written atomically (a failed or interrupted download leaves no file behind).
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ._checks import as_data_tensor, positive_int, real, same_shape

__all__ = [
    "Dataset",
    "DataNotFoundError",
    "CorruptFileError",
    "load_fashion_mnist",
    "load_mnist",
    "load_digits",
    "image_patches",
    "read_idx",
    "download_file",
    "stratified_indices",
    "cache_dir",
    "resize_images",
]


class DataNotFoundError(FileNotFoundError):
    """No local copy of a dataset exists and it could not be downloaded."""


class CorruptFileError(ValueError):
    """A data file is truncated, has a bad header, or fails its checksum."""


@dataclass
class Dataset:
    """A train/test split of flattened images.

    Attributes
    ----------
    x_train, x_test : torch.Tensor
        ``float32`` in ``[0, 1]``, shape ``(n, prod(image_shape))``: one flattened row per image.
    y_train, y_test : torch.Tensor
        ``int64`` class labels.
    image_shape : tuple of int
        ``(channels, height, width)``, e.g. ``(1, 28, 28)``.
    class_names : list of str
    name : str
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple
    class_names: list = field(default_factory=list)
    name: str = ""

    @property
    def input_dim(self) -> int:
        """Number of pixels per image (the width of a row of ``x_train``)."""
        return int(np.prod(self.image_shape))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, image_shape={self.image_shape}, "
            f"classes={self.n_classes})"
        )


# --------------------------------------------------------------------------- sources

# Fashion-MNIST is verified on its *decompressed* bytes: re-compressed copies (Debian's package)
# differ in the gzip header but must hold exactly the same images.
_FASHION = {
    "name": "fashion-mnist",
    "mirrors": [
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # plain HTTP: often blocked
    ],
    "sizes": {"train": 60_000, "test": 10_000},
    "files": {
        "train_images": ("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        "train_labels": ("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "test_images": ("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "test_labels": ("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
    "checksum_of": "content",
    "system_dirs": ["/usr/share/datasets/fashion-mnist"],
    "class_names": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "how": "apt-get install dataset-fashion-mnist (Debian/Ubuntu)",
}

# MNIST has no Debian package; the SHA-256 sums are those of the published .gz archives.
_MNIST = {
    "name": "mnist",
    "mirrors": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "files": {
        "train_images": ("train-images-idx3-ubyte", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train_labels": ("train-labels-idx1-ubyte", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test_images": ("t10k-images-idx3-ubyte", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "test_labels": ("t10k-labels-idx1-ubyte", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "sizes": {"train": 60_000, "test": 10_000},
    "checksum_of": "archive",
    "system_dirs": ["/usr/share/datasets/mnist"],
    "class_names": [str(d) for d in range(10)],
    "how": "copy the four *-ubyte.gz files from https://ossci-datasets.s3.amazonaws.com/mnist/",
}


def cache_dir() -> Path:
    """The user cache, ``$XDG_CACHE_HOME/aelib`` or ``~/.cache/aelib``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aelib"


def _search_dirs(spec: dict, data_dir) -> list[Path]:
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / spec["name"]]
    if os.environ.get("AELIB_DATA_DIR"):  # one folder per dataset: MNIST and Fashion-MNIST share file names
        dirs.append(Path(os.environ["AELIB_DATA_DIR"]) / spec["name"])
    dirs.append(cache_dir() / spec["name"])
    dirs += [Path(d) for d in spec["system_dirs"]]
    return dirs


def _find_local(stem: str, dirs: Sequence[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / f"{stem}.gz", d / stem):
            if candidate.is_file():
                return candidate
    return None


# --------------------------------------------------------------------------- IDX format

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: Path):
    path = Path(path)
    with open(path, "rb") as fh:
        is_gzip = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if is_gzip else open(path, "rb")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (as used by MNIST), plain or gzip-compressed.

    The header is checked: two zero bytes, a known type code, the number of dimensions; then
    the payload length must equal the product of the dimensions.

    Raises
    ------
    CorruptFileError
        Naming the file and what is wrong (bad magic number, truncated payload, trailing data,
        broken gzip stream).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such IDX file; check the path (or let a loader download it).")
    try:
        with _open(path) as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise CorruptFileError(f"{path}: cannot be decompressed ({err}); the file is truncated or corrupt — "
                               "delete it and download it again.") from err
    if len(raw) < 4:
        raise CorruptFileError(f"{path}: only {len(raw)} bytes, too short for an IDX header.")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise CorruptFileError(f"{path}: bad IDX magic number 0x{raw[:4].hex()} (expected 0x0000TTNN with a known "
                               "type TT and NN ≥ 1 dimensions); this is not an IDX file.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFileError(f"{path}: truncated inside the IDX header.")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(dims)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        problem = "truncated" if got < expected else "has trailing bytes"
        raise CorruptFileError(f"{path}: {problem}: header says dimensions {dims} ({expected} bytes of data) "
                               f"but the file holds {got}. Delete it and download it again.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


# --------------------------------------------------------------------------- download


def _sha256_of(path: Path, decompress: bool = False) -> str:
    digest = hashlib.sha256()
    with (_open(path) if decompress else open(path, "rb")) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    dest,
    sha256: str | None = None,
    *,
    content_sha256: str | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying its checksum (with ``pooch``).

    ``pooch.retrieve`` writes to a temporary file and renames it to ``dest`` only when the
    download is complete and its SHA-256 (``sha256``) matches; a file already there with the
    right checksum is not downloaded again. ``content_sha256`` checks the gzip-decompressed
    bytes instead (a wrong file is removed). Network errors are retried ``retries`` times with
    a short back-off. No partial or wrong file is ever left.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    import pooch
    import requests

    dest = Path(dest)
    retries = positive_int("retries", retries)
    dest.parent.mkdir(parents=True, exist_ok=True)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout)
    known_hash = f"sha256:{sha256.lower()}" if sha256 else None
    last_error: Exception | None = None
    for attempt in range(retries):
        try:
            with _quiet(pooch.get_logger()):  # its "use this value as known_hash" note reads like an error
                pooch.retrieve(url, known_hash, fname=dest.name, path=dest.parent, downloader=downloader)
            break
        except ValueError as err:  # pooch's checksum mismatch; it has already removed the file
            raise CorruptFileError(f"{url}: SHA-256 mismatch (expected {sha256}); the download is "
                                   "corrupt or the mirror changed. Nothing was saved.") from err
        except (requests.RequestException, OSError) as err:
            last_error = err
            if attempt + 1 < retries:
                time.sleep(min(0.5 * 2**attempt, 4.0))
    else:
        raise ConnectionError(f"could not download {url} after {retries} attempt(s): {last_error}")
    if content_sha256 is not None:
        try:
            actual = _sha256_of(dest, decompress=True)
        except (OSError, EOFError) as err:
            dest.unlink()
            raise CorruptFileError(f"{url}: not a valid gzip file ({err}). Nothing was saved.") from err
        if actual != content_sha256.lower():
            dest.unlink()
            raise CorruptFileError(f"{url}: SHA-256 of the content does not match (expected "
                                   f"{content_sha256}). Nothing was saved.")
    return dest


@contextlib.contextmanager
def _quiet(logger):
    """Warnings only from ``logger`` inside the block; its level is restored afterwards."""
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


# --------------------------------------------------------------------------- loaders


def _check_count(name: str, value, available: int) -> int | None:
    """``None`` (all of them) or a count in ``1 … available``."""
    return None if value is None else positive_int(name, value, maximum=available)


def stratified_indices(labels, n: int, seed: int = 0) -> np.ndarray:
    """Choose ``n`` indices so that every class keeps its share
    (``sklearn.model_selection.train_test_split`` with ``stratify``).

    The result is in random order and reproducible for a given ``seed``. ``n`` must leave room
    for every class: at least the number of classes, and all of them but one when it is less
    than the total.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    n = _check_count("n", n, len(labels))
    if n == len(labels):
        return np.random.default_rng(seed).permutation(n)
    try:
        chosen, _ = train_test_split(np.arange(len(labels)), train_size=n, stratify=labels, random_state=seed)
    except ValueError as err:
        raise ValueError(f"n={n} cannot keep every class's share of {len(labels)} labels ({err}); "
                         "choose a larger n.") from err
    return chosen


def _subsample(x: np.ndarray, y: np.ndarray, n, seed: int, name: str):
    # Against the rows actually read: a local copy may hold fewer than the published set
    # (load_fashion_mnist has already checked n against that set's size, before any file).
    n = _check_count(name, n, len(y))
    if n is None or n == len(y):
        return x, y
    idx = stratified_indices(y, n, seed)
    return x[idx], y[idx]


def _to_dataset(x_tr, y_tr, x_te, y_te, scale, image_shape, class_names, name) -> Dataset:
    def as_x(a):
        return torch.from_numpy(np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32) / np.float32(scale))

    def as_y(a):
        return torch.from_numpy(np.asarray(a, dtype=np.int64))

    return Dataset(as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te), tuple(image_shape), list(class_names), name)


def _load_idx_dataset(spec, n_train, n_test, seed, data_dir, download) -> Dataset:
    # The sizes are checked before any file is looked for or downloaded.
    n_train = _check_count("n_train", n_train, spec["sizes"]["train"])
    n_test = _check_count("n_test", n_test, spec["sizes"]["test"])
    dirs = _search_dirs(spec, data_dir)
    paths = {}
    for key, (stem, checksum) in spec["files"].items():
        path = _find_local(stem, dirs)
        if path is None and download:
            path = _download_idx(spec, stem, checksum)
        if path is None:
            raise DataNotFoundError(_not_found_message(spec, stem, dirs))
        paths[key] = path
    arrays = {key: read_idx(p) for key, p in paths.items()}
    for split in ("train", "test"):
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise CorruptFileError(f"{paths[split + '_images']} holds {len(arrays[split + '_images'])} images but "
                                   f"{paths[split + '_labels']} holds {len(arrays[split + '_labels'])} labels.")
    x_tr, y_tr = _subsample(arrays["train_images"], arrays["train_labels"], n_train, seed, "n_train")
    x_te, y_te = _subsample(arrays["test_images"], arrays["test_labels"], n_test, seed + 1, "n_test")
    shape = (1,) + tuple(arrays["train_images"].shape[1:])
    return _to_dataset(x_tr, y_tr, x_te, y_te, 255.0, shape, spec["class_names"], spec["name"])


def _download_idx(spec, stem, checksum) -> Path | None:
    dest = cache_dir() / spec["name"] / f"{stem}.gz"
    kwargs = {"content_sha256": checksum} if spec["checksum_of"] == "content" else {"sha256": checksum}
    for mirror in spec["mirrors"]:
        try:
            return download_file(mirror + f"{stem}.gz", dest, **kwargs)
        except (ConnectionError, CorruptFileError):
            continue
    return None


def _not_found_message(spec, stem, dirs) -> str:
    looked = "\n".join(f"  - {d}" for d in dirs)
    return (
        f"{spec['name']}: no local copy of {stem}(.gz) and the download failed (offline?).\n"
        f"Looked in:\n{looked}\n"
        "Ways to get the data:\n"
        f"  1. {spec['how']};\n"
        f"  2. put the four *-ubyte.gz files in a folder named {spec['name']!r} inside the folder "
        f"that AELIB_DATA_DIR names (or pass data_dir= the folder holding them);\n"
        f"  3. run once with network access: they are downloaded from {spec['mirrors'][0]} "
        f"into {cache_dir() / spec['name']}."
    )


def load_fashion_mnist(n_train=None, n_test=None, seed: int = 0, *, data_dir=None, download: bool = True) -> Dataset:
    """Zalando's Fashion-MNIST: 60,000 + 10,000 grey 28×28 images of clothing, 10 classes.

    Parameters
    ----------
    n_train, n_test : int, optional
        Stratified, seeded subsample sizes (all images when ``None``).
    seed : int
        Seed for the subsample.
    data_dir : path, optional
        A folder holding the four ``*-ubyte.gz`` files, searched first.
    download : bool
        Fall back to downloading into the user cache when no local copy exists.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> data = load_fashion_mnist(n_train=1000, n_test=200)  # doctest: +SKIP
    >>> data.x_train.shape, data.image_shape
    (torch.Size([1000, 784]), (1, 28, 28))
    """
    return _load_idx_dataset(_FASHION, n_train, n_test, seed, data_dir, download)


def load_mnist(n_train=None, n_test=None, seed: int = 0, *, data_dir=None, download: bool = True) -> Dataset:
    """LeCun's MNIST handwritten digits (download only; see :func:`load_fashion_mnist`)."""
    return _load_idx_dataset(_MNIST, n_train, n_test, seed, data_dir, download)


def load_digits(n_train=None, n_test=None, seed: int = 0, *, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn's 1,797 8×8 handwritten digits (bundled, works offline), split stratified.

    Pixel values 0…16 are scaled to ``[0, 1]``.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    test_fraction = real("test_fraction", test_fraction, 0.0, 1.0, open_low=True, open_high=True)
    bunch = _sk_load_digits()
    x, y = bunch.data, bunch.target
    test_idx = stratified_indices(y, int(round(test_fraction * len(y))), seed)
    train_mask = np.ones(len(y), bool)
    train_mask[test_idx] = False
    train_idx = np.flatnonzero(train_mask)
    train_idx = train_idx[np.random.default_rng(seed).permutation(len(train_idx))]
    x_tr, y_tr = _subsample(x[train_idx], y[train_idx], n_train, seed, "n_train")
    x_te, y_te = _subsample(x[test_idx], y[test_idx], n_test, seed + 1, "n_test")
    return _to_dataset(x_tr, y_tr, x_te, y_te, 16.0, (1, 8, 8), [str(d) for d in range(10)], "digits")


def image_patches(size: int = 8, n: int = 10_000, seed: int = 0, *, normalize: bool = True) -> torch.Tensor:
    """Random grey patches cut from scikit-learn's bundled photographs (china, flower).

    Used by the chapter *Sparse coding and sparse autoencoders*.

    Parameters
    ----------
    size : int
        Patch side in pixels (patches are ``size × size``).
    n : int
        Number of patches.
    seed : int
    normalize : bool
        Subtract each patch's mean (its DC component) and divide all patches by one global
        standard deviation, so contrast — not brightness — is what a dictionary has to explain.

    Returns
    -------
    torch.Tensor
        ``float32`` of shape ``(n, size * size)``, one flattened patch per row.
    """
    from sklearn.datasets import load_sample_images

    size, n = positive_int("size", size, minimum=2, maximum=64), positive_int("n", n)
    images = [img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
              for img in load_sample_images().images]
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(images), size=n)
    patches = np.empty((n, size, size), np.float32)
    for i, k in enumerate(which):
        h, w = images[k].shape
        r, c = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        patches[i] = images[k][r:r + size, c:c + size]
    patches = patches.reshape(n, -1)
    if normalize:
        patches -= patches.mean(axis=1, keepdims=True)
        patches /= max(float(patches.std()), 1e-8)
    return torch.from_numpy(patches)


def resize_images(x, image_shape, size) -> torch.Tensor:
    """Resize flattened images (rows) to ``size = (height, width)`` with bilinear interpolation.

    Used to put scikit-learn's 8×8 digits beside 28×28 Fashion-MNIST (anomaly detection demo in
    chapter *Autoencoders*). Returns flattened rows clipped to ``[0, 1]``.
    """
    import torch.nn.functional as F

    c, h, w = image_shape
    x = as_data_tensor("x", x).float()
    same_shape("x", x, (len(x), c * h * w), f" = (n, c·h·w) for image_shape {tuple(image_shape)}")
    out = F.interpolate(x.reshape(-1, c, h, w), size=tuple(size), mode="bilinear", align_corners=False)
    return out.clamp(0, 1).reshape(len(x), -1)
