"""Experiments: data sets, model builders, trainers, sweeps and the claim presets.

Submodules are imported on first use, so ``import initlab.experiments`` stays cheap.
"""

from .._lazy import module_getattr

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


__getattr__ = module_getattr(__name__, _EXPORTS)
