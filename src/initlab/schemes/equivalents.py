"""Which call of PyTorch, Keras and JAX each registry scheme equals.

One row per canonical scheme name (:data:`EQUIVALENTS`). ``torch`` is the ``torch.nn.init`` call
(or module default) with the same law; ``torch_same_values`` says whether, given the same
``torch.Generator``, initlab draws the very same values (it uses PyTorch's algorithm) or only the
same law (another algorithm). ``keras`` and ``jax`` name ``keras.initializers`` and
``jax.nn.initializers`` entries with the same law; ``None`` where that library has none.

Keras's ``HeNormal``, ``GlorotNormal`` and ``LecunNormal`` (and JAX's ``he_normal`` …) are the
±2σ truncated laws with the std divided by 0.87962566103423978, so they are the equivalents of
initlab's ``*_truncated_normal`` schemes, not of its untruncated ``*_normal``.

The documentation's scheme pages are generated from this table; a test holds it to the registry
(every scheme has a row) and runs every ``torch_same_values`` claim bit for bit against the
``torch.nn.init`` call it names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Equivalent", "EQUIVALENTS", "equivalent"]


@dataclass(frozen=True)
class Equivalent:
    """The calls of other libraries that draw the same law as one initlab scheme."""

    torch: str | None
    torch_same_values: bool
    keras: str | None
    jax: str | None
    note: str = ""


_E = Equivalent
EQUIVALENTS: dict[str, Equivalent] = {
    "zeros": _E("torch.nn.init.zeros_(w)", True, "keras.initializers.Zeros()", "jax.nn.initializers.zeros"),
    "ones": _E("torch.nn.init.ones_(w)", True, "keras.initializers.Ones()", "jax.nn.initializers.ones"),
    "constant": _E("torch.nn.init.constant_(w, value)", True, "keras.initializers.Constant(value)",
                   "jax.nn.initializers.constant(value)"),
    "random_normal": _E("torch.nn.init.normal_(w, mean, std)", True,
                        "keras.initializers.RandomNormal(mean, stddev)", "jax.nn.initializers.normal(stddev)",
                        "JAX's normal has mean 0."),
    "random_uniform": _E("torch.nn.init.uniform_(w, minval, maxval)", True,
                         "keras.initializers.RandomUniform(minval, maxval)", "jax.nn.initializers.uniform(scale)",
                         "JAX's uniform(scale) is U(0, scale), i.e. random_uniform(0, scale)."),
    "truncated_normal": _E("torch.nn.init.trunc_normal_(w, mean, std, mean + a*std, mean + b*std)", False,
                           "keras.initializers.TruncatedNormal(mean, stddev)",
                           "jax.nn.initializers.truncated_normal(stddev, lower=a, upper=b)",
                           "Keras and JAX cut at ±2σ of the parent normal and do not restore the variance."),
    "trunc_normal": _E("torch.nn.init.trunc_normal_(w, mean, std, a, b)", False, None, None,
                       "Same law as PyTorch's; drawn by another algorithm (rejection or inverse CDF)."),
    "variance_scaling": _E(None, False, "keras.initializers.VarianceScaling(scale, mode, distribution)",
                           "jax.nn.initializers.variance_scaling(scale, mode, distribution)"),
    "glorot_normal": _E("torch.nn.init.xavier_normal_(w, gain)", True, None, None,
                        "Keras's GlorotNormal is the truncated law: see glorot_truncated_normal."),
    "glorot_uniform": _E("torch.nn.init.xavier_uniform_(w, gain)", True, "keras.initializers.GlorotUniform()",
                         "jax.nn.initializers.glorot_uniform()", "Keras's default for Dense kernels."),
    "glorot_truncated_normal": _E(None, False, "keras.initializers.GlorotNormal()",
                                  "jax.nn.initializers.glorot_normal()"),
    "he_normal": _E("torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)", True, None, None,
                    "Keras's HeNormal is the truncated law: see he_truncated_normal."),
    "he_uniform": _E("torch.nn.init.kaiming_uniform_(w, a, mode, nonlinearity)", True,
                     "keras.initializers.HeUniform()", "jax.nn.initializers.he_uniform()"),
    "he_truncated_normal": _E(None, False, "keras.initializers.HeNormal()", "jax.nn.initializers.he_normal()"),
    "lecun_normal": _E(None, False, None, None,
                       "Keras's LecunNormal is the truncated law: see lecun_truncated_normal."),
    "lecun_uniform": _E(None, False, "keras.initializers.LecunUniform()", "jax.nn.initializers.lecun_uniform()"),
    "lecun_truncated_normal": _E(None, False, "keras.initializers.LecunNormal()",
                                 "jax.nn.initializers.lecun_normal()"),
    "orthogonal": _E("torch.nn.init.orthogonal_(w, gain)", True, "keras.initializers.Orthogonal(gain)",
                     "jax.nn.initializers.orthogonal(scale=gain)",
                     "Same values with generator=; with seed= initlab forms Q from Householder reflectors "
                     "(same Haar law, thread-count independent)."),
    "identity": _E("torch.nn.init.eye_(w) (gain 1)", True, "keras.initializers.Identity(gain)", None),
    "dirac": _E("torch.nn.init.dirac_(w, groups) (gain 1)", True, None, None),
    "delta_orthogonal": _E(None, False, None, "jax.nn.initializers.delta_orthogonal(scale=gain)"),
    "sparse": _E("torch.nn.init.sparse_(w, sparsity, std)", False, None, None,
                 "Same law as PyTorch's; the zeros of each column come from another permutation draw."),
    "torch_default": _E("nn.Linear / nn.Conv*d reset_parameters()", False, None, None,
                        "U(±1/√fan_in) for weights and biases; initialize(model, 'torch_default', "
                        "bias='torch_default') after torch.manual_seed(s) gives the constructors' values."),
}


def equivalent(name: str) -> Equivalent:
    """The row of :data:`EQUIVALENTS` for ``name`` (any alias, any case).

    >>> equivalent("kaiming_normal").torch
    'torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)'
    >>> equivalent("HeNormal").keras
    'keras.initializers.HeNormal()'
    """
    from .registry import canonical_name

    return EQUIVALENTS[canonical_name(name)]
