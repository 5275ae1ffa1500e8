"""The per-tensor laws of deep residual networks and transformers: gpt-neox's ``small_init`` and
``wang_init``, OLMo's ``mitchell``, ZerO (Zhao et al. 2022) and IDInit (Pan et al. 2025).

Registered beside the classic schemes (:data:`DEPTH_SCHEMES`, aliases in :mod:`initlab.schemes.registry`);
the recipes that need a model's residual structure (Fixup, GPT-2's scaled residual, mimetic attention …)
are in :mod:`initlab.model.recipes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import InitlabError, check_finite, check_int
from .fans import Fans
from .initializers import _normal, _require_numel, _structured, _truncated
from .spec import Initializer

__all__ = ["SmallInit", "WangInit", "Mitchell", "ZerO", "IDInit", "DEPTH_SCHEMES"]


def _dim(value, fans: Fans | None, arg: str = "dim") -> int:
    """A width ``d`` given explicitly, else the tensor's fan_in."""
    if value is None:
        if fans is None:
            raise InitlabError(f"{arg}: got None for a tensor without fans; allowed: a positive integer")
        return int(fans.fan_in)
    return check_int(arg, value, minimum=1)


@dataclass(frozen=True, repr=False)
class SmallInit(Initializer):
    """gpt-neox's ``small_init``: N(0, 2/(5d)), from Nguyen & Salazar 2019 ("Transformers without Tears"),
    who derive it from Glorot's 2/(d + 4d) for a layer feeding a 4d-wide MLP. gpt-neox
    (``megatron/model/init_functions.py``, ``small_init_init_method(dim)``) passes the model's hidden size as
    d for every layer; ``dim=None`` takes the tensor's fan_in (the hidden size for the d × d projections).

    >>> import initlab
    >>> round(initlab.small_init(dim=768).distribution((768, 768)).std, 6)
    0.022822
    """

    dim: int | None = None
    name: ClassVar[str] = "small_init"
    formula: ClassVar[str] = "N(0, 2/(5·d)), d = dim (default fan_in)"
    source: ClassVar[str] = "Nguyen & Salazar 2019; gpt-neox small_init_init_method"

    def _resolve(self, shape, fans, layout, *, groups=1):
        return _normal(0.0, math.sqrt(2.0 / (5.0 * _dim(self.dim, fans))))


@dataclass(frozen=True, repr=False)
class WangInit(Initializer):
    """gpt-neox's ``wang_init`` for the output projections of the residual branches: N(0, (2/(L·√d))²), with
    L = ``n_layers`` (the model's number of transformer layers) and d = ``dim`` (gpt-neox: the hidden
    size; None: the tensor's fan_in). From ``wang_init_method(n_layers, dim)`` in gpt-neox's
    ``megatron/model/init_functions.py`` (used by GPT-J and GPT-NeoX-20B, Black et al. 2022).

    >>> import initlab
    >>> round(initlab.wang_init(n_layers=32, dim=4096).distribution((4096, 4096)).std, 8)
    0.00097656
    """

    n_layers: int = 1
    dim: int | None = None
    name: ClassVar[str] = "wang_init"
    formula: ClassVar[str] = "N(0, (2/(n_layers·√d))²), d = dim (default fan_in)"
    source: ClassVar[str] = "gpt-neox wang_init_method (Black et al. 2022)"

    def _resolve(self, shape, fans, layout, *, groups=1):
        n_layers = check_int("n_layers", self.n_layers, minimum=1)
        return _normal(0.0, 2.0 / (n_layers * math.sqrt(_dim(self.dim, fans))))


@dataclass(frozen=True, repr=False)
class Mitchell(Initializer):
    """OLMo's ``mitchell`` init: N(0, σ²) truncated to [−3σ, 3σ] (absolute bounds, the std not corrected),
    σ = 1/√d, and for the output projections of block ``layer`` (0-based) σ = 1/√d / √(2·(layer + 1)).
    d = ``dim`` (OLMo: the layer's input width; None: the tensor's fan_in). From OLMo's ``init_weights``
    (``InitFnType.mitchell``; Groeneveld et al. 2024), which calls it with ``layer_id`` for ``attn_out`` and
    ``ff_out`` and without for the other layers.

    >>> import initlab
    >>> d = initlab.mitchell(layer=3).distribution((256, 256))
    >>> round(d.params["scale"] * 16 * (2 * 4) ** 0.5, 12), d.params["a"], d.params["b"]
    (1.0, -3.0, 3.0)
    """

    dim: int | None = None
    layer: int | None = None
    name: ClassVar[str] = "mitchell"
    formula: ClassVar[str] = "N(0, σ²) on [−3σ, 3σ], σ = 1/√d ÷ √(2·(layer+1)) (÷ 1 without layer)"
    source: ClassVar[str] = "OLMo init_weights, InitFnType.mitchell (Groeneveld et al. 2024)"

    def _resolve(self, shape, fans, layout, *, groups=1):
        std = 1.0 / math.sqrt(_dim(self.dim, fans))
        if self.layer is not None:
            std /= math.sqrt(2.0 * (check_int("layer", self.layer, minimum=0) + 1))
        return _truncated(0.0, std, -3.0, 3.0)


def _out_in(shape, layout) -> tuple[int, int]:
    """(out, in) of a weight: torch (out, in, *k), keras/jax (*k, in, out)."""
    return (shape[0], shape[1]) if layout == "torch" else (shape[-1], shape[-2])


def _hadamard_sum(rows: int, cols: int, k: int, memo: dict) -> int:
    """Σ of the top-left rows × cols block of the Sylvester Hadamard matrix H (2^k × 2^k)."""
    if rows <= 0 or cols <= 0:
        return 0
    if k == 0:
        return 1
    key = (rows, cols, k)
    if key not in memo:
        h = 1 << (k - 1)
        r1, r2, c1, c2 = min(rows, h), max(rows - h, 0), min(cols, h), max(cols - h, 0)
        memo[key] = (_hadamard_sum(r1, c1, k - 1, memo) + _hadamard_sum(r1, c2, k - 1, memo)
                     + _hadamard_sum(r2, c1, k - 1, memo) - _hadamard_sum(r2, c2, k - 1, memo))
    return memo[key]


@dataclass(frozen=True, repr=False)
class ZerO(Initializer):
    """ZerO (Zhao et al. 2022, "ZerO Initialization: Initializing Neural Networks with only Zeros and Ones"),
    deterministic: the same values for every seed. For W of out × in (Algorithm 1): out ≤ in — the partial
    identity I(out, in) (ones on the diagonal); out > in — I(out, 2ᵏ)·H·I(2ᵏ, in) / 2^(k/2) with
    k = ⌈log₂ out⌉ and H the 2ᵏ × 2ᵏ Sylvester Hadamard matrix (H₀ = 1, H_k = [[H, H], [H, −H]]):
    the top-left out × in block of the orthonormal Hadamard matrix. The constant 2^(−k/2) is the one of
    the authors' reference code (``ZerO_Init_on_matrix``); it makes the Hadamard factor orthogonal. A
    convolution kernel holds the matrix at its spatial centre and zeros elsewhere. ``initlab.get("ZerO")``
    (case matters: ``"zero"`` is ``zeros``).

    >>> import initlab, torch
    >>> initlab.get("ZerO")(torch.empty(4, 2))
    tensor([[ 0.5000,  0.5000],
            [ 0.5000, -0.5000],
            [ 0.5000,  0.5000],
            [ 0.5000, -0.5000]])
    """

    name: ClassVar[str] = "ZerO"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 2
    formula: ClassVar[str] = ("out ≤ in: I(out, in); out > in: I(out, 2ᵏ)·H_k·I(2ᵏ, in)/2^(k/2), k = ⌈log₂ out⌉ "
                              "(Hadamard H_k); kernels at their centre")
    source: ClassVar[str] = "Zhao et al. 2022 (ZerO)"

    def _resolve(self, shape, fans, layout, *, groups=1):
        _require_numel(shape, self.name)
        out, inn = _out_in(shape, layout)
        n = math.prod(shape)
        if out <= inn:
            return _structured("hadamard_identity", shape, out / n, out / n, out=out, inn=inn, k=None)
        k = max(0, math.ceil(math.log2(out)))
        total = _hadamard_sum(out, inn, k, {})
        return _structured("hadamard_identity", shape, out * inn / (2 ** k) / n, total / 2 ** (k / 2) / n,
                           out=out, inn=inn, k=k)


@dataclass(frozen=True, repr=False)
class IDInit(Initializer):
    """IDInit (Pan et al. 2025, "IDInit: A Universal and Stable Initialization Method for Neural Network
    Training"), the identity-preserving law IDI_τ for a 2-D weight of out × in: τ at every (i, j) with
    i ≡ j (mod min(out, in)) and 0 elsewhere — the identity matrix repeated along the longer side (the
    paper's padded identity-like matrix, which keeps the rank of a non-square layer at min(out, in)).
    Deterministic. The paper's treatment of convolution kernels is not implemented (2-D weights only).

    >>> import initlab, torch
    >>> initlab.idinit()(torch.empty(2, 4))
    tensor([[1., 0., 1., 0.],
            [0., 1., 0., 1.]])
    """

    tau: float = 1.0
    name: ClassVar[str] = "idinit"
    needs_fans: ClassVar[bool] = False
    min_ndim: ClassVar[int] = 2
    formula: ClassVar[str] = "W[i, j] = τ if i ≡ j (mod min(out, in)), else 0"
    source: ClassVar[str] = "Pan et al. 2025 (IDInit)"

    def _resolve(self, shape, fans, layout, *, groups=1):
        tau = check_finite("tau", self.tau)
        if len(shape) != 2:
            raise InitlabError(f"shape: got {shape}; allowed: a 2-D weight for 'idinit' (its convolution scheme is "
                               "not implemented)")
        _require_numel(shape, self.name)
        n = math.prod(shape)
        ones = max(shape)
        return _structured("padded_identity", shape, tau * tau * ones / n, tau * ones / n, tau=tau)


DEPTH_SCHEMES: tuple[type[Initializer], ...] = (SmallInit, WangInit, Mitchell, ZerO, IDInit)
