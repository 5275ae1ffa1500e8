"""Measurements the demo shows beside the claims: what each scheme draws, and the mean-field phase
diagram. Like the presets, each returns tidy rows; the report only draws them."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SCHEMES_SHOWN", "scheme_draws", "phase_rows"]

SCHEMES_SHOWN = (("random_normal(std=0.01)", "random_normal", {"std": 0.01}),
                 ("random_uniform (±0.05)", "random_uniform", {}),
                 ("glorot_uniform", "glorot_uniform", {}), ("glorot_normal", "glorot_normal", {}),
                 ("he_normal", "he_normal", {}), ("he_truncated_normal (Keras HeNormal)", "he_truncated_normal", {}),
                 ("lecun_normal", "lecun_normal", {}), ("orthogonal", "orthogonal", {}))


def scheme_draws(seed: int = 0, shape: tuple[int, int] = (256, 784), bins: int = 80) -> list[dict]:
    """For each scheme of :data:`SCHEMES_SHOWN`: the values it draws for a ``shape`` layer (seeded) as
    a density histogram, and its law's density at each bin centre, resolved before sampling (normal,
    uniform, truncated normal; NaN for orthogonal, which has no closed-form density per entry).

    Rows: scheme, formula, std (of the law), x (bin centre), width, drawn, law.
    """
    import torch

    import initlab
    from ..schemes.spec import normal_cdf

    rows = []
    for label, name, params in SCHEMES_SHOWN:
        init = initlab.get({"name": name, "params": params})
        dist = init.distribution(shape)
        values = init(torch.empty(shape), seed=seed).numpy().astype(np.float64).ravel()
        density, edges = np.histogram(values, bins=bins, density=True)
        centres = (edges[:-1] + edges[1:]) / 2
        p = dist.params
        if dist.family == "normal":
            law = np.exp(-0.5 * ((centres - p["mean"]) / p["std"]) ** 2) / (p["std"] * math.sqrt(2 * math.pi))
        elif dist.family == "uniform":
            law = np.where((centres >= p["low"]) & (centres <= p["high"]), 1.0 / (p["high"] - p["low"]), 0.0)
        elif dist.family == "truncated_normal":
            z = normal_cdf(p["b"]) - normal_cdf(p["a"])
            u = (centres - p["loc"]) / p["scale"]
            inside = (u >= p["a"]) & (u <= p["b"])
            law = np.where(inside, np.exp(-0.5 * u ** 2) / (p["scale"] * math.sqrt(2 * math.pi) * z), 0.0)
        else:
            law = np.full_like(centres, np.nan)
        formula = f"{type(init).formula}; std {dist.std:.4g}"
        rows += [{"scheme": label, "formula": formula, "std": float(dist.std), "x": float(c),
                  "width": float(edges[1] - edges[0]), "drawn": float(d), "law": float(g)}
                 for c, d, g in zip(centres, density, law)]
    return rows


def phase_rows(activations=("tanh", "relu"), sigma_w2=None, sigma_b2=None) -> list[dict]:
    """χ₁ over a (σ_w², σ_b²) grid and the critical line χ₁ = 1 for each activation
    (:func:`initlab.theory.phase_diagram`), plus the critical σ_w² of tanh at σ_b² = 0.05 and of ReLU at
    σ_b = 0. Rows: ``part="chi1"`` (activation, sigma_w2, sigma_b2, chi1), ``part="critical"``
    (activation, sigma_b2, critical_sigma_w2) and ``part="point"`` (activation, sigma_b2,
    critical_sigma_w2)."""
    from .. import theory

    w2 = np.linspace(0.5, 4.0, 71) if sigma_w2 is None else np.asarray(sigma_w2, dtype=float)
    b2 = np.linspace(0.0, 0.3, 31) if sigma_b2 is None else np.asarray(sigma_b2, dtype=float)
    rows = []
    for act in activations:
        d = theory.phase_diagram(act, w2, b2)
        chi = np.asarray(d["chi1"], dtype=float)
        if chi.shape != (len(b2), len(w2)):
            chi = chi.T
        rows += [{"part": "chi1", "activation": act, "sigma_w2": float(w), "sigma_b2": float(b), "chi1": float(chi[i, j])}
                 for i, b in enumerate(b2) for j, w in enumerate(w2)]
        rows += [{"part": "critical", "activation": act, "sigma_b2": float(b), "critical_sigma_w2": float(c)}
                 for b, c in zip(b2, np.asarray(d["critical_sigma_w2"], dtype=float))]
    rows.append({"part": "point", "activation": "tanh", "sigma_b2": 0.05,
                 "critical_sigma_w2": float(theory.critical_sigma_w("tanh", math.sqrt(0.05)) ** 2)})
    rows.append({"part": "point", "activation": "relu", "sigma_b2": 0.0,
                 "critical_sigma_w2": float(theory.critical_sigma_w("relu", 0.0) ** 2)})
    return rows
