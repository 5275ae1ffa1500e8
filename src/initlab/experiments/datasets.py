"""Data sets for initialization experiments, loaded or generated locally as torch tensors.

Every loader returns a :class:`Dataset` with float32 inputs and int64 labels. Image sets keep
their channel layout, ``(N, C, H, W)``; MNIST-1D is ``(N, 1, 40)``; the 2-D playground sets are
``(N, 2)``.

Standardization (one rule for every set): the inputs are shifted and scaled **per channel** —
per feature for flat ``(N, D)`` sets — with the mean and standard deviation of the *training*
split only, so that the training inputs have mean 0 and variance 1 in each channel and the
test inputs are transformed with the same numbers. Unit input variance is the starting point
that variance-propagation arguments for initialization assume (Glorot & Bengio 2010; He et
al. 2015).

=================  ===========  ==============  ==================================================
name               input_shape  train / test    source
=================  ===========  ==============  ==================================================
``digits``         (1, 8, 8)    1437 / 360      scikit-learn's bundled ``load_digits`` (1797
                                                images), stratified split seeded by ``seed``
``mnist1d``        (1, 40)      4000 / 1000     generated here from the recipe of Greydanus 2020
``circle``         (2,)         1000 / 500      disc inside a ring
``xor``            (2,)         1000 / 500      quadrant signs
``gaussians``      (2,)         1000 / 500      two Gaussian blobs
``spiral``         (2,)         1000 / 500      two interleaved spirals
``mnist``          (1, 28, 28)  60000 / 10000   IDX files in a local folder
``fashion_mnist``  (1, 28, 28)  60000 / 10000   IDX files in a local folder
``cifar10``        (3, 32, 32)  50000 / 10000   python pickle batches in a local folder
=================  ===========  ==============  ==================================================

``n_train`` / ``n_test`` shrink a split: generated sets are generated at that size; the
others keep a random subset (drawn from ``seed``; for ``digits`` the first rows of the
already shuffled, stratified split).

Local files are searched in ``root`` if given, else in ``$INITLAB_DATA/<name>`` if the
environment variable ``INITLAB_DATA`` is set, else in ``~/.initlab/data/<name>``. Inside that
folder the files may sit at the top, or one level down in ``<name>/`` (or, for CIFAR-10, in
``cifar-10-batches-py/`` as the official archive unpacks).
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import InitlabError, check_int, check_positive, suggest

__all__ = ["Dataset", "DATASETS", "load", "data_root"]

DATASETS = ("digits", "mnist1d", "circle", "xor", "gaussians", "spiral", "mnist", "fashion_mnist", "cifar10")
"""The names :func:`load` accepts."""

PLAYGROUND = ("circle", "xor", "gaussians", "spiral")
_PLAYGROUND_NOISE = {"circle": 0.05, "xor": 0.05, "gaussians": 0.5, "spiral": 0.05}


@dataclass(frozen=True)
class Dataset:
    """A train/test split: ``x`` float32 of shape ``(N, *input_shape)``, ``y`` int64 class indices."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    input_shape: tuple[int, ...]
    num_classes: int

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes})")


def load(name: str, *, seed: int = 0, root: str | Path | None = None, n_train: int | None = None,
         n_test: int | None = None, noise: float | None = None) -> Dataset:
    """Load or generate the data set ``name`` (one of :data:`DATASETS`).

    ``seed`` fixes everything random about the set: the digits split, generated samples and
    subsets. ``noise`` applies to the 2-D playground sets only (the std of Gaussian noise
    added to each coordinate; defaults: circle 0.05, xor 0.05, gaussians 0.5 — the blobs'
    own spread —, spiral 0.05).

    >>> data = load("digits")
    >>> data.x_train.shape, data.num_classes
    (torch.Size([1437, 1, 8, 8]), 10)
    """
    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise InitlabError(f"dataset: got {name!r}; allowed: {', '.join(DATASETS)}{suggest(str(name), DATASETS)}")
    name = name.lower()
    seed = check_int("seed", seed, minimum=0)
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    if noise is not None:
        if name not in PLAYGROUND:
            raise InitlabError(f"noise: got {noise!r} for dataset {name!r}; allowed: only for "
                               f"{', '.join(PLAYGROUND)}")
        noise = check_positive("noise", noise, allow_zero=True)

    if name == "digits":
        return _digits(seed, n_train, n_test)
    if name == "mnist1d":
        return _mnist1d(seed, 4000 if n_train is None else n_train, 1000 if n_test is None else n_test)
    if name in PLAYGROUND:
        return _playground(name, seed, 1000 if n_train is None else n_train, 500 if n_test is None else n_test,
                           _PLAYGROUND_NOISE[name] if noise is None else noise)
    folder = data_root(name, root)
    if name == "cifar10":
        x_tr, y_tr, x_te, y_te = _read_cifar10(folder)
        shape = (3, 32, 32)
    else:
        x_tr, y_tr, x_te, y_te = _read_idx_set(name, folder)
        shape = (1, 28, 28)
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _subset(x_tr, y_tr, n_train, rng)
    x_te, y_te = _subset(x_te, y_te, n_test, rng)
    x_tr = x_tr.reshape(len(x_tr), *shape).astype(np.float32) / 255.0
    x_te = x_te.reshape(len(x_te), *shape).astype(np.float32) / 255.0
    return _finish(name, x_tr, y_tr, x_te, y_te, 10)


def _check_count(arg: str, value) -> int | None:
    return None if value is None else check_int(arg, value, minimum=1)


def _subset(x: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator):
    if n is None or n >= len(y):
        return x, y
    keep = np.sort(rng.permutation(len(y))[:n])
    return x[keep], y[keep]


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (per-feature for flat inputs) standardization with training statistics.

    x' = (x − μ_c) / σ_c, μ_c and σ_c the mean and (population) std of channel c over all
    training samples and positions; a constant channel keeps σ_c = 1.
    """
    axes = (0,) if x_train.ndim == 2 else (0, *range(2, x_train.ndim))
    xt = x_train.astype(np.float64)
    mean = xt.mean(axis=axes, keepdims=True)
    std = xt.std(axis=axes, keepdims=True)
    std[std == 0] = 1.0
    return ((xt - mean) / std).astype(np.float32), ((x_test.astype(np.float64) - mean) / std).astype(np.float32)


def _finish(name, x_tr, y_tr, x_te, y_te, num_classes) -> Dataset:
    x_tr, x_te = _standardize(x_tr, x_te)
    return Dataset(name=name, x_train=torch.from_numpy(np.ascontiguousarray(x_tr)),
                   y_train=torch.from_numpy(np.asarray(y_tr, dtype=np.int64)),
                   x_test=torch.from_numpy(np.ascontiguousarray(x_te)),
                   y_test=torch.from_numpy(np.asarray(y_te, dtype=np.int64)),
                   input_shape=tuple(x_tr.shape[1:]), num_classes=num_classes)


# --------------------------------------------------------------------------------------------
# digits


def _digits(seed: int, n_train: int | None, n_test: int | None) -> Dataset:
    """scikit-learn's 8×8 digits: 1797 images with pixel values 0..16, split 1437/360.

    The split is ``sklearn.model_selection.train_test_split(images, target, test_size=360,
    stratify=target, random_state=seed, shuffle=True)`` (36 test images of each digit, give or
    take one).
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InitlabError("dataset 'digits' needs scikit-learn: pip install 'initlab[experiments]'") from exc
    bunch = load_digits()
    x = bunch.images.astype(np.float32)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=360, stratify=y, random_state=seed, shuffle=True)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    if n_test is not None:
        x_te, y_te = x_te[:n_test], y_te[:n_test]
    return _finish("digits", x_tr, y_tr, x_te, y_te, 10)


# --------------------------------------------------------------------------------------------
# MNIST-1D (Greydanus 2020, "Scaling down deep learning", arXiv:2011.14439)

# Ten hand-drawn 1-D "digit" outlines of 12 points each (the paper's templates, Fig. 1).
_MNIST1D_TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])

MNIST1D_RECIPE = {
    "template_len": 12,
    "template_scale": 1 / 6,
    "padding": (36, 60),
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "corr_noise_sigma": 2.0,
    "iid_noise_scale": 0.02,
    "shear_scale": 0.75,
    "final_seq_length": 40,
}
"""The constants of the MNIST-1D recipe (Greydanus 2020, defaults of the published generator)."""


def _mnist1d_templates() -> np.ndarray:
    """Templates normalised to zero mean and unit std, shifted so each starts at 0, then scaled by 1/6.

    The 1/6 puts the digit's amplitude on the scale of the noise (std 0.25 correlated, shear
    up to ±0.375): that is what makes the set hard for linear models.
    """
    t = _MNIST1D_TEMPLATES.astype(np.float64)
    t = (t - t.mean(axis=1, keepdims=True)) / t.std(axis=1, keepdims=True)
    return (t - t[:, :1]) * MNIST1D_RECIPE["template_scale"]


def _resample(signals: np.ndarray, lengths: np.ndarray, out_len: int) -> np.ndarray:
    """Linear interpolation of each row's first ``lengths[i]`` points onto ``out_len`` evenly spaced points.

    Row i is read as samples at positions 0, 1/(L_i−1), …, 1 and evaluated at k/(out_len−1).
    """
    n = len(signals)
    pos = np.linspace(0.0, 1.0, out_len)[None, :] * (lengths[:, None] - 1)  # fractional index per row
    left = np.clip(np.floor(pos).astype(np.int64), 0, None)
    right = np.minimum(left + 1, lengths[:, None] - 1)
    frac = pos - left
    rows = np.arange(n)[:, None]
    return (1 - frac) * signals[rows, left] + frac * signals[rows, right]


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Convolve each row with a normalised Gaussian kernel (radius 4σ), mirror-reflected at the edges."""
    radius = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([x[:, radius - 1::-1], x, x[:, :-radius - 1:-1]], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, len(k), axis=1)
    return windows @ k


def _mnist1d(seed: int, n_train: int, n_test: int) -> Dataset:
    """Generate MNIST-1D following Greydanus 2020, "Scaling down deep learning".

    Each example starts from the template of its class (12 points; normalised, starting at 0,
    amplitude × 1/6) and goes through:

    1. **padding**: p ~ U{36..60} zeros appended, then the padded signal (12+p points) is
       stretched by linear interpolation to 12+60 = 72 points — a random horizontal scale;
    2. **scaling**: amplitude × (1 + 0.4·(u − ½)), u ~ U(0, 1);
    3. **translation**: circular shift by k ~ U{0..47} positions;
    4. **correlated noise**: where the signal is exactly zero (the padding), it is replaced by
       Gaussian noise of std 0.25 smoothed by a Gaussian filter of σ = 2 samples;
    5. **iid noise**: N(0, 0.02²) added everywhere;
    6. **shear**: a linear ramp c·t with t from −½ to ½ and c = 0.75·(u − ½) subtracted;
    7. **interpolation** to 40 evenly spaced points.

    Labels are balanced (i mod 10, shuffled). The published baselines on the default
    4000/1000 split: logistic regression ≈ 32 %, MLP ≈ 68 %, CNN ≈ 94 % test accuracy.
    """
    r = MNIST1D_RECIPE
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.permutation(np.arange(n) % 10)
    templates = _mnist1d_templates()
    length = r["template_len"] + r["padding"][1]
    # a tiny offset keeps template points distinguishable from padding zeros in step 4
    base = np.zeros((n, length))
    base[:, : r["template_len"]] = templates[y] + 1e-8
    pads = rng.integers(r["padding"][0], r["padding"][1] + 1, size=n)
    x = _resample(base, r["template_len"] + pads, length)
    x *= 1 + r["scale_coeff"] * (rng.random(n)[:, None] - 0.5)
    shifts = rng.integers(0, r["max_translation"], size=n)
    x = x[np.arange(n)[:, None], (np.arange(length)[None, :] - shifts[:, None]) % length]
    corr = _gaussian_smooth(r["corr_noise_scale"] * rng.standard_normal((n, length)), r["corr_noise_sigma"])
    x = np.where(x != 0, x, corr)
    x = x + r["iid_noise_scale"] * rng.standard_normal((n, length))
    x = x - (r["shear_scale"] * (rng.random(n)[:, None] - 0.5)) * np.linspace(-0.5, 0.5, length)[None, :]
    x = _resample(x, np.full(n, length), r["final_seq_length"])[:, None, :]
    return _finish("mnist1d", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 10)


# --------------------------------------------------------------------------------------------
# 2-D playground sets (in the spirit of the TensorFlow Playground)


def _playground(name: str, seed: int, n_train: int, n_test: int, noise: float) -> Dataset:
    """Two-class point clouds in the plane; ``noise`` is the std of Gaussian jitter per coordinate.

    * circle: class 0 uniform in angle with radius r ~ U(0, 0.5); class 1 with r ~ U(0.7, 1).
    * xor: points uniform in [−1, 1]², label 1 where x₁·x₂ > 0 (labels from the clean points).
    * gaussians: class 0 ~ N((−1, −1), noise²·I), class 1 ~ N((1, 1), noise²·I).
    * spiral: two arms r = t, θ = 3π·t + c·π, t ~ U(0.05, 1), c ∈ {0, 1} the class.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.permutation(np.arange(n) % 2)
    if name == "circle":
        r = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
        a = rng.uniform(0, 2 * math.pi, n)
        x = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    elif name == "xor":
        x = rng.uniform(-1, 1, (n, 2))
        y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    elif name == "gaussians":
        x = np.where(y[:, None] == 0, -1.0, 1.0) * np.ones((n, 2))
    else:  # spiral
        t = rng.uniform(0.05, 1.0, n)
        a = 3 * math.pi * t + math.pi * y
        x = np.stack([t * np.cos(a), t * np.sin(a)], axis=1)
    x = x + noise * rng.standard_normal((n, 2))
    return _finish(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], 2)


# --------------------------------------------------------------------------------------------
# files in a local folder

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def data_root(name: str, root: str | Path | None = None) -> Path:
    """The folder searched for ``name``'s files: ``root``, else ``$INITLAB_DATA/<name>``, else ``~/.initlab/data/<name>``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("INITLAB_DATA")
    base = Path(env).expanduser() if env else Path.home() / ".initlab" / "data"
    return base / name


def _candidates(folder: Path, name: str) -> list[Path]:
    subs = [folder, folder / name]
    if name == "cifar10":
        subs += [folder / "cifar-10-batches-py", folder / name / "cifar-10-batches-py"]
    return subs


def _find_idx(folder: Path, name: str, stem: str) -> Path | None:
    for d in _candidates(folder, name):
        for fname in (stem, stem + ".gz"):
            if (d / fname).is_file():
                return d / fname
    return None


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file (LeCun et al.): magic 0x0000 08 <ndim>, ndim big-endian uint32 sizes, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        raise InitlabError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s) "
                           f"(expected magic 00 00 08 0{ndim}, got {raw[:4].hex(' ') or 'nothing'})")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    want = int(np.prod(dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != want:
        raise InitlabError(f"{path}: header says {dims} = {want} bytes of data; the file holds {data.size}")
    return data.reshape(dims)


def _read_idx_set(name: str, folder: Path):
    paths = {key: _find_idx(folder, name, stem) for key, stem in _IDX_FILES.items()}
    missing = [_IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise InitlabError(
            f"dataset {name!r}: missing {', '.join(missing)} (each may be gzipped, name + '.gz'); "
            f"put these files in {folder} (searched: {', '.join(map(str, _candidates(folder, name)))}). "
            f"Choose another folder with root=... or the INITLAB_DATA environment variable.")
    x_tr, y_tr = _read_idx(paths["train_images"], 3), _read_idx(paths["train_labels"], 1)
    x_te, y_te = _read_idx(paths["test_images"], 3), _read_idx(paths["test_labels"], 1)
    for split, x, y in (("train", x_tr, y_tr), ("t10k", x_te, y_te)):
        if len(x) != len(y) or x.shape[1:] != (28, 28):
            raise InitlabError(f"dataset {name!r}: {split} images {x.shape} do not match labels {y.shape} "
                               "(expected (N, 28, 28) images and N labels)")
        if y.size and y.max() > 9:
            raise InitlabError(f"dataset {name!r}: {split} labels must lie in 0..9; found {int(y.max())}")
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only, so a data file cannot run code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _read_cifar_batch(path: Path):
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, EOFError, ValueError) as exc:
        raise InitlabError(f"{path}: not a CIFAR-10 python batch (a pickled dict with b'data' "
                           f"(N, 3072) uint8 and b'labels'): {exc}") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise InitlabError(f"{path}: data {data.shape} and labels {labels.shape} do not form (N, 3072) and (N,)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise InitlabError(f"{path}: labels must lie in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _read_cifar10(folder: Path):
    found = None
    for d in _candidates(folder, "cifar10"):
        if all((d / f).is_file() for f in _CIFAR_FILES):
            found = d
            break
    if found is None:
        missing = [f for f in _CIFAR_FILES if not (folder / f).is_file()]
        raise InitlabError(
            f"dataset 'cifar10': missing {', '.join(missing)}; put the CIFAR-10 python batches "
            f"({', '.join(_CIFAR_FILES)}, as unpacked from cifar-10-python.tar.gz) in {folder} "
            f"(searched: {', '.join(map(str, _candidates(folder, 'cifar10')))}). "
            "Choose another folder with root=... or the INITLAB_DATA environment variable.")
    train = [_read_cifar_batch(found / f) for f in _CIFAR_FILES[:5]]
    x_te, y_te = _read_cifar_batch(found / "test_batch")
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]), x_te, y_te)
