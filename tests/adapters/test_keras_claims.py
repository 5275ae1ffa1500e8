"""The Keras lines the report shows for each claim, run as code with the torch backend: every
network a claim states (:attr:`initlab.experiments.claim.Preset.keras`, in both budgets) builds a
Keras model whose layer sizes and activations are the claim's, and whose kernels and biases follow
the law of the claim's scheme, computed here from the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from _cases import case, make_tests, needs_keras

pytestmark = needs_keras

# every claim shipped today states its networks; a claim added without any is reported as such
WITH_SETTINGS = {"symmetry", "vanishing", "exploding", "xavier-vs-he", "glorot2010", "activation-guide",
                 "orthogonal-depth", "selu", "mnist1d-baselines", "lsuv", "zero-init"}
# initlab's activation names → the Keras function a Dense layer applies (leaky_relu: a LeakyReLU layer follows)
KERAS_FN = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu", "gelu": "gelu", "linear": "linear",
            "leaky_relu": "linear"}
TORCH_LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default, which the claims' torch models use


def zero_kernel(fan_in: int, fan_out: int) -> np.ndarray:
    """ZerO's (Zhao et al. 2022, Algorithm 1) matrix W (out × in) as a Keras kernel Wᵀ (in × out): the partial
    identity when out ≤ in, else the top-left out × in block of the Sylvester Hadamard matrix H_k
    (k = ⌈log₂ out⌉, built by Kronecker products) divided by 2^(k/2)."""
    if fan_out <= fan_in:
        w = np.eye(fan_out, fan_in)
    else:
        k = math.ceil(math.log2(fan_out))
        h = np.ones((1, 1))
        for _ in range(k):
            h = np.kron(np.array([[1.0, 1.0], [1.0, -1.0]]), h)
        w = h[:fan_out, :fan_in] / 2 ** (k / 2)
    return w.T


def law(scheme: str, params: dict, fan_in: int, fan_out: int):
    """The law of a kernel (fan_in, fan_out) under ``scheme``, from the sources' formulas."""
    if scheme == "ZerO":
        return ("exact", zero_kernel(fan_in, fan_out))
    if scheme == "zeros":
        return ("constant", 0.0)
    if scheme == "constant":
        return ("constant", float(params["value"]))
    if scheme == "orthogonal":
        return ("orthogonal", float(params.get("gain", 1.0)))
    if scheme == "random_normal":
        return ("normal", 0.0, float(params["std"]))
    normal_var = {"he_normal": 2.0 / fan_in,                    # He et al. 2015, eq. (10)
                  "lecun_normal": 1.0 / fan_in,                 # LeCun et al. 1998; Klambauer et al. 2017
                  "glorot_normal": 2.0 / (fan_in + fan_out)}    # Glorot & Bengio 2010, eq. (12) as a normal
    if scheme in normal_var:
        return ("normal", 0.0, math.sqrt(normal_var[scheme]))
    bound = {"glorot_uniform": math.sqrt(6.0 / (fan_in + fan_out)),  # Glorot & Bengio 2010, eq. (16)
             "torch_default": 1.0 / math.sqrt(fan_in)}[scheme]      # PyTorch's nn.Linear.reset_parameters
    return ("uniform", -bound, bound)


def bias_law(scheme: str, fan_in: int):
    """The claims' models start biases at 0, except PyTorch's default init: U(±1/√fan_in)."""
    bound = 1 / math.sqrt(fan_in)
    return ("uniform", -bound, bound) if scheme == "torch_default" else ("constant", 0.0)


def _check_values(values: np.ndarray, want, what: str, pits: list) -> None:
    """Deterministic laws exactly; random ones: the std within a tolerance that a wrong fan (a factor
    √2 or more) cannot meet, the bounds kept, and the probability transform kept for a pooled KS test."""
    kind, *p = want
    if kind == "exact":  # a deterministic law: every value, to float32 rounding
        np.testing.assert_allclose(values, p[0], rtol=0, atol=1e-7, err_msg=what)
        return
    if kind == "constant":
        assert np.array_equal(values, np.full(values.shape, p[0])), f"{what}: not all {p[0]}"
        return
    if kind == "orthogonal":
        gram = values.T @ values if values.shape[0] >= values.shape[1] else values @ values.T
        np.testing.assert_allclose(gram, p[0] ** 2 * np.eye(len(gram)), atol=2e-5, err_msg=what)
        return
    frozen = sps.norm(p[0], p[1]) if kind == "normal" else sps.uniform(p[0], p[1] - p[0])
    flat = values.reshape(-1)
    tol = 6 / math.sqrt(2 * flat.size)
    assert abs(flat.std() / frozen.std() - 1) < tol, f"{what}: std {flat.std():.4g}, law's {frozen.std():.4g}"
    if kind == "uniform":
        assert flat.min() >= p[0] * (1 + 1e-6) and flat.max() <= p[1] * (1 + 1e-6), f"{what}: beyond ±{p[1]:.4g}"
    pits.append(frozen.cdf(flat[:: max(1, flat.size // 20_000)]))


def _check_model(model, s, what: str) -> None:
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [s.width] * s.depth + [s.classes], what
    assert tuple(model.inputs[0].shape) == (None, s.inputs), what
    assert [layer.activation.__name__ for layer in dense] == [KERAS_FN[s.activation]] * s.depth + ["softmax"], what
    leaky = [layer for layer in model.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == (s.depth if s.activation == "leaky_relu" else 0), what
    assert all(float(layer.negative_slope) == pytest.approx(TORCH_LEAKY_SLOPE) for layer in leaky), what
    pits: list = []
    for k, layer in enumerate(dense):
        w = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
        b = keras.ops.convert_to_numpy(layer.bias).astype(np.float64)
        fan_in, fan_out = w.shape
        _check_values(w, law(s.scheme, dict(s.scheme_params), fan_in, fan_out), f"{what}: kernel {k}", pits)
        _check_values(b, bias_law(s.scheme, fan_in), f"{what}: bias {k}", pits)
    if pits:  # pooled over the layers: the shape of the law, not only its std
        u = np.concatenate(pits)
        p = sps.kstest(u, "uniform").pvalue
        assert p > 1e-5, f"{what}: KS test rejects the scheme's law (p = {p:.3g})"


def _settings():
    from initlab.experiments.claim import keras_of
    from initlab.experiments.presets import PRESETS

    out = {}
    for name, preset in PRESETS.items():
        for budget, settings in preset.budgets.items():
            for s in keras_of(preset, dict(settings))[0]:
                out.setdefault(s.lines(), (name, budget, s))
    return out


@pytest.mark.slow
@case("torch")
def every_claims_keras_lines_build_its_networks():
    """Each claim's Keras lines (both budgets, each distinct snippet once) build the claim's MLP with
    the scheme's law in every kernel and bias, the head's included; LSUV's lines leave every layer's
    pre-activation output at unit variance (within the claim's tol) on the batch they were run on."""
    import keras

    from initlab._threads import torch_threads
    from initlab.experiments.claim import digits

    snippets = _settings()
    assert {name for name, _, _ in snippets.values()} == WITH_SETTINGS
    x_train = digits().x_train.reshape(len(digits().x_train), -1).numpy()
    for code, (name, budget, s) in snippets.items():
        what = f"{name} ({budget}), {s.label}"
        ns = {"x_train": x_train}
        keras.utils.set_random_seed(0)
        with torch_threads(1):  # LSUV's 64-wide matmuls: on 2 busy cores a parallel region mostly waits (20x slower)
            exec(compile(code, f"<{what}>", "exec"), ns)  # noqa: S102 - initlab's own generated code
        model = ns["model"]
        if s.lsuv is None:
            _check_model(model, s, what)
            continue
        assert "initlab.keras.lsuv(model, x_train[:512]" in code, what
        h = x_train[:s.batch].astype(np.float64)
        for layer in [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]:
            z = h @ keras.ops.convert_to_numpy(layer.kernel) + keras.ops.convert_to_numpy(layer.bias)
            assert abs(z.var() - 1) < s.lsuv["tol"], (what, layer.name, z.var())
            h = np.maximum(z, 0)


@case("torch")
def a_wrong_law_fails_the_check():
    """The check above can fail: a He kernel read as LeCun's and back (std off by √2), glorot_uniform
    read as PyTorch's default (other fans), a Gaussian kernel read as orthogonal, a random orthogonal
    kernel read as ZerO's (which is orthogonal too, but one exact matrix), ZerO read as zeros, zero biases read as
    PyTorch's default, and a model one layer short."""
    import keras

    from initlab.adapters.snippets import keras_lines
    from initlab.experiments.claim import KerasSetting

    cases = [(KerasSetting("he as lecun", "relu", 2, 64, "he_normal"), "lecun_normal"),
             (KerasSetting("glorot as torch", "tanh", 2, 256, "glorot_uniform"), "torch_default"),
             (KerasSetting("normal as orthogonal", "linear", 2, 32, "lecun_normal"), "orthogonal"),
             (KerasSetting("lecun as he", "selu", 2, 64, "lecun_normal"), "he_normal"),
             (KerasSetting("orthogonal as ZerO", "relu", 2, 128, "orthogonal"), "ZerO"),  # ZerO's are orthogonal
             (KerasSetting("ZerO as identity-free", "relu", 2, 128, "ZerO"), "zeros")]
    for built, read_as in cases:
        ns = {}
        exec(compile(built.lines(), "<wrong>", "exec"), ns)  # noqa: S102
        wrong = KerasSetting(built.label, built.activation, built.depth, built.width, read_as)
        with pytest.raises(AssertionError):
            _check_model(ns["model"], wrong, built.label)
    # PyTorch's default kernels with zero biases, read as PyTorch's default (biases U(±1/√fan_in))
    ns = {}
    code = keras_lines("relu", 2, 64, "torch_default", bias="zeros", head=True)
    exec(compile(code, "<bias>", "exec"), ns)  # noqa: S102
    with pytest.raises(AssertionError, match="bias 0"):
        _check_model(ns["model"], KerasSetting("bias", "relu", 2, 64, "torch_default"), "bias")
    # and the sizes: a model one layer short is caught
    ns = {}
    exec(compile(KerasSetting("short", "relu", 2, 32, "he_normal").lines(), "<short>", "exec"), ns)  # noqa: S102
    with pytest.raises(AssertionError):
        _check_model(ns["model"], KerasSetting("short", "relu", 3, 32, "he_normal"), "short")
    assert keras.backend.backend() == "torch"


make_tests(globals())
