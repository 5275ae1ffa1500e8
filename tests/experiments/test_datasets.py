"""Data sets: shapes, splits, standardization with training statistics, the MNIST-1D recipe,
the playground sets, and the local-file formats (IDX raw and gzipped, CIFAR-10 pickle batches)."""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from initlab.errors import InitlabError
from initlab.experiments import datasets as D
from initlab.experiments.datasets import DATASETS, Dataset, load


def _standardize_ref(train: np.ndarray, test: np.ndarray, axes):
    mean = train.astype(np.float64).mean(axis=axes, keepdims=True)
    std = train.astype(np.float64).std(axis=axes, keepdims=True)
    std[std == 0] = 1
    return (train - mean) / std, (test - mean) / std


# ------------------------------------------------------------------------------------ names


def test_names_and_unknown_name_suggests():
    assert set(DATASETS) == {"digits", "mnist1d", "circle", "xor", "gaussians", "spiral", "mnist",
                             "fashion_mnist", "cifar10"}
    with pytest.raises(InitlabError, match=r"dataset: got 'mnits'.*did you mean 'mnist'"):
        load("mnits")
    with pytest.raises(InitlabError, match="dataset: got 3"):
        load(3)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed: got -1"),
    ({"seed": 1.5}, "seed: got 1.5"),
    ({"n_train": 0}, "n_train: got 0"),
    ({"n_test": "5"}, "n_test: got '5'"),
    ({"noise": 0.1}, "noise: got 0.1 for dataset 'digits'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InitlabError, match=match):
        load("digits", **kwargs)


def test_negative_noise_is_an_error():
    with pytest.raises(InitlabError, match="noise: got -0.1"):
        load("circle", noise=-0.1)


# ------------------------------------------------------------------------------------ digits


def test_digits_split_and_standardization_match_the_documented_recipe():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load("digits", seed=3)
    assert isinstance(data, Dataset)
    assert data.x_train.shape == (1437, 1, 8, 8) and data.x_test.shape == (360, 1, 8, 8)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    # stratified: 36 test images per digit, give or take one
    counts = torch.bincount(data.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37

    b = load_digits()
    xr_tr, xr_te, yr_tr, yr_te = train_test_split(b.images[:, None], b.target, test_size=360, stratify=b.target,
                                                  random_state=3, shuffle=True)
    exp_tr, exp_te = _standardize_ref(xr_tr, xr_te, axes=(0, 2, 3))  # one channel: one mean, one std
    np.testing.assert_allclose(data.x_train.numpy(), exp_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.x_test.numpy(), exp_te, rtol=1e-5, atol=1e-5)
    assert np.array_equal(data.y_train.numpy(), yr_tr) and np.array_equal(data.y_test.numpy(), yr_te)
    # training statistics only: the train split is exactly standardized, the test split is not
    assert abs(float(data.x_train.double().mean())) < 1e-6
    assert abs(float(data.x_train.double().std(unbiased=False)) - 1) < 1e-5
    assert abs(float(data.x_test.double().mean())) > 1e-4


def test_digits_seed_and_subsets():
    a, b, c = load("digits", seed=0), load("digits", seed=0), load("digits", seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)
    small = load("digits", n_train=100, n_test=50)
    assert small.x_train.shape[0] == 100 and small.y_test.shape[0] == 50
    assert torch.equal(small.y_train, a.y_train[:100])


# ------------------------------------------------------------------------------------ MNIST-1D


def test_mnist1d_shapes_balance_and_determinism():
    a = load("mnist1d")
    assert a.x_train.shape == (4000, 1, 40) and a.x_test.shape == (1000, 1, 40)
    assert a.input_shape == (1, 40) and a.num_classes == 10
    counts = torch.bincount(torch.cat([a.y_train, a.y_test]), minlength=10)
    assert torch.all(counts == 500)  # 5000 examples, balanced
    b = load("mnist1d", seed=0, n_train=200, n_test=100)
    c = load("mnist1d", seed=1, n_train=200, n_test=100)
    assert b.x_train.shape == (200, 1, 40) and b.x_test.shape == (100, 1, 40)
    assert torch.equal(b.x_train, load("mnist1d", seed=0, n_train=200, n_test=100).x_train)
    assert not torch.equal(b.x_train, c.x_train)


def test_mnist1d_resample_is_linear_interpolation():
    rng = np.random.default_rng(0)
    sig = rng.standard_normal((3, 20))
    lengths = np.array([20, 12, 7])
    out = D._resample(sig, lengths, 40)
    for row, n in enumerate(lengths):
        ref = np.interp(np.linspace(0, 1, 40), np.linspace(0, 1, n), sig[row, :n])
        np.testing.assert_allclose(out[row], ref, atol=1e-12)


def test_mnist1d_smoothing_is_a_gaussian_filter():
    from scipy.ndimage import gaussian_filter1d

    x = np.random.default_rng(1).standard_normal((4, 72))
    np.testing.assert_allclose(D._gaussian_smooth(x, 2.0), gaussian_filter1d(x, 2.0, axis=1, mode="reflect",
                                                                              truncate=4.0), atol=1e-12)


def test_mnist1d_templates_are_normalized_digits():
    t = D._mnist1d_templates()
    assert t.shape == (10, 12)
    assert np.allclose(t[:, 0], 0)  # each outline starts at 0
    # before the start shift, each template had mean 0 and std 1, then × 1/6
    np.testing.assert_allclose((t - t.mean(1, keepdims=True)).std(1), np.full(10, 1 / 6), rtol=1e-12)
    assert len({tuple(np.round(row, 6)) for row in t}) == 10  # ten distinct digits


@pytest.mark.slow
def test_mnist1d_baselines_logistic_near_32_percent_mlp_well_above():
    """Greydanus 2020 reports logistic regression ≈ 32 %, MLP ≈ 68 % on the default split.

    Measured here (seed 0): scikit-learn's LogisticRegression 31.5 % (34.9 % with seed 1); the
    2×100 ReLU MLP below, 30 epochs of Adam, peaks at 57 % (scikit-learn's MLPClassifier(100, 100)
    reached 60-64 %). Band asserted for logistic regression: 25-40 %; the MLP must beat it by
    at least 15 points.
    """
    from sklearn.linear_model import LogisticRegression

    from initlab.experiments.models import mlp
    from initlab.experiments.trainer import TrainConfig, train

    data = load("mnist1d")
    x = data.x_train.reshape(len(data.x_train), -1).numpy()
    xt = data.x_test.reshape(len(data.x_test), -1).numpy()
    logistic = LogisticRegression(max_iter=2000).fit(x, data.y_train.numpy()).score(xt, data.y_test.numpy())
    assert 0.25 <= logistic <= 0.40, logistic

    torch.manual_seed(0)
    net = mlp(data.input_shape, 10, depth=2, width=100)
    cfg = TrainConfig(dataset="mnist1d", depth=2, width=100, optimizer="adam", lr=2e-3, epochs=30,
                      batch_size=100, grad_std_steps=())
    result = train(cfg, data=data, model=net)
    mlp_acc = max(row["test_acc"] for row in result.history)
    assert mlp_acc >= logistic + 0.15, (mlp_acc, logistic)


# ------------------------------------------------------------------------------------ playground


@pytest.mark.parametrize("name", ["circle", "xor", "gaussians", "spiral"])
def test_playground_shapes_and_standardization(name):
    d = load(name, n_train=300, n_test=100)
    assert d.x_train.shape == (300, 2) and d.x_test.shape == (100, 2)
    assert d.input_shape == (2,) and d.num_classes == 2
    assert set(torch.unique(d.y_train).tolist()) == {0, 1}
    np.testing.assert_allclose(d.x_train.double().mean(0).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(d.x_train.double().std(0, unbiased=False).numpy(), 1, atol=1e-5)
    assert torch.equal(d.x_train, load(name, n_train=300, n_test=100).x_train)


def test_gaussians_noise_sets_the_within_class_spread():
    # raw: class means (±1, ±1), within-class std σ per coordinate → total variance 1 + σ² per coordinate,
    # so after standardization the within-class std is σ / √(1 + σ²)
    for sigma in (0.3, 1.0):
        d = load("gaussians", noise=sigma, n_train=4000, n_test=10)
        within = torch.cat([d.x_train[d.y_train == k] - d.x_train[d.y_train == k].mean(0) for k in (0, 1)])
        np.testing.assert_allclose(within.std(0).numpy(), sigma / math.sqrt(1 + sigma**2), rtol=0.05)


def test_clean_playground_sets_follow_their_rules():
    # circle without noise: the classes are separated by radius (standardization is nearly isotropic)
    d = load("circle", noise=0.0, n_train=2000, n_test=10)
    r = d.x_train.norm(dim=1)
    assert float(r[d.y_train == 0].max()) < float(r[d.y_train == 1].min())
    # xor without noise: label = [x1·x2 > 0] up to the tiny shift of the standardization
    d = load("xor", noise=0.0, n_train=2000, n_test=10)
    agree = ((d.x_train[:, 0] * d.x_train[:, 1] > 0).long() == d.y_train).float().mean()
    assert float(agree) > 0.97


@pytest.mark.parametrize("name", ["circle", "xor", "spiral"])
def test_playground_noise_blurs_the_classes(name):
    from sklearn.neighbors import KNeighborsClassifier

    def knn_accuracy(noise):
        d = load(name, noise=noise, n_train=1000, n_test=400)
        knn = KNeighborsClassifier(5).fit(d.x_train.numpy(), d.y_train.numpy())
        return knn.score(d.x_test.numpy(), d.y_test.numpy())

    assert knn_accuracy(0.0) > 0.97
    assert knn_accuracy(0.6) < 0.85


# ------------------------------------------------------------------------------------ IDX files


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_set(folder, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in arrays.items():
        if gz:
            with gzip.open(folder / (stem + ".gz"), "wb") as f:
                f.write(_idx_bytes(arr))
        else:
            (folder / stem).write_bytes(_idx_bytes(arr))
    return arrays


@pytest.mark.parametrize("name, gz", [("mnist", False), ("mnist", True), ("fashion_mnist", True)])
def test_idx_files_load_exactly(tmp_path, name, gz):
    arrays = _write_idx_set(tmp_path, gz=gz)
    d = load(name, root=tmp_path)
    assert d.x_train.shape == (12, 1, 28, 28) and d.x_test.shape == (5, 1, 28, 28)
    assert d.input_shape == (1, 28, 28) and d.num_classes == 10
    raw_tr = arrays["train-images-idx3-ubyte"][:, None] / 255.0
    raw_te = arrays["t10k-images-idx3-ubyte"][:, None] / 255.0
    exp_tr, exp_te = _standardize_ref(raw_tr, raw_te, axes=(0, 2, 3))
    np.testing.assert_allclose(d.x_train.numpy(), exp_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.x_test.numpy(), exp_te, rtol=1e-5, atol=1e-5)
    assert d.y_train.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert d.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_idx_found_through_environment_and_subsets(tmp_path, monkeypatch):
    arrays = _write_idx_set(tmp_path / "mnist", n_train=30, n_test=9)
    monkeypatch.setenv("INITLAB_DATA", str(tmp_path))
    assert D.data_root("mnist") == tmp_path / "mnist"
    d = load("mnist", n_train=10, n_test=4, seed=5)
    assert d.x_train.shape[0] == 10 and d.x_test.shape[0] == 4
    labels = arrays["train-labels-idx1-ubyte"]
    # the subset is a seeded choice of rows, in their original order
    rng = np.random.default_rng(5)
    keep = np.sort(rng.permutation(30)[:10])
    assert d.y_train.tolist() == labels[keep].tolist()
    monkeypatch.delenv("INITLAB_DATA")
    assert D.data_root("mnist") == D.Path.home() / ".initlab" / "data" / "mnist"


def test_missing_idx_files_say_what_to_put_where(tmp_path):
    _write_idx_set(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(InitlabError) as err:
        load("mnist", root=tmp_path)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and "train-images-idx3-ubyte" not in msg.split("put")[0]
    assert str(tmp_path) in msg and "INITLAB_DATA" in msg
    with pytest.raises(InitlabError, match="missing train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                           "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"):
        load("fashion_mnist", root=tmp_path / "empty")


def test_corrupt_idx_files_are_reported(tmp_path):
    _write_idx_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 8)
    with pytest.raises(InitlabError, match="not an IDX file of unsigned bytes with 1 dimension"):
        load("mnist", root=tmp_path)
    _write_idx_set(tmp_path)
    data = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(data[:-5])
    with pytest.raises(InitlabError, match="the file holds"):
        load("mnist", root=tmp_path)


# ------------------------------------------------------------------------------------ CIFAR-10


def _write_cifar(folder, per_batch=4, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
        data[:, :1024] //= 4  # red channel darker than the others: checks the channel order
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data}, f, protocol=2)
        batches[name] = (data, labels)
    return batches


def test_cifar10_batches_load_exactly(tmp_path):
    batches = _write_cifar(tmp_path / "cifar-10-batches-py")
    d = load("cifar10", root=tmp_path)
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
    assert d.input_shape == (3, 32, 32) and d.num_classes == 10
    raw_tr = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)]).reshape(-1, 3, 32, 32) / 255.0
    raw_te = batches["test_batch"][0].reshape(-1, 3, 32, 32) / 255.0
    exp_tr, exp_te = _standardize_ref(raw_tr, raw_te, axes=(0, 2, 3))
    np.testing.assert_allclose(d.x_train.numpy(), exp_tr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.x_test.numpy(), exp_te, rtol=1e-5, atol=1e-5)
    assert d.y_train.tolist() == sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    # per-channel statistics: every channel of the train split has mean 0, std 1
    np.testing.assert_allclose(d.x_train.double().mean((0, 2, 3)).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(d.x_train.double().std((0, 2, 3), unbiased=False).numpy(), 1, atol=1e-5)


def test_cifar10_missing_and_unsafe_files(tmp_path):
    with pytest.raises(InitlabError, match=r"missing data_batch_1, .*test_batch; put the CIFAR-10 python batches"):
        load("cifar10", root=tmp_path)
    _write_cifar(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump({b"data": os.getcwd, b"labels": [0]}, f)  # a pickle that names a callable
    with pytest.raises(InitlabError, match="refusing to load"):
        load("cifar10", root=tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(InitlabError, match=r"do not form \(N, 3072\)"):
        load("cifar10", root=tmp_path)
