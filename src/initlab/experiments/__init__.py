"""Experiments: data sets, model builders, trainers, sweeps and the claim presets.

Submodules are imported on first use, so ``import initlab.experiments`` stays cheap.
"""

import importlib

_EXPORTS = {
    "Dataset": "datasets", "load": "datasets", "DATASETS": "datasets",
    "mlp": "models", "small_cnn": "models", "build_model": "models",
    "TrainConfig": "trainer", "TrainResult": "trainer", "train": "trainer",
    "train_batched": "batched",
    "SweepConfig": "config", "run_sweep": "sweep", "SweepResult": "sweep",
    "run_preset": "presets", "PRESETS": "presets", "PresetResult": "presets",
    "run_suite": "suite", "SuiteResult": "suite",
    "Preset": "claim", "Source": "claim", "FigureSpec": "claim",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
