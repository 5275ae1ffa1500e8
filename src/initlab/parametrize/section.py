"""The data of a "Width: μP" section of a report: coordinate check SP vs μP, and learning-rate transfer.

:func:`width_section` measures both and returns tidy rows, fitted slopes, verdicts with their deciding
numbers, the paper's statements to set them against, and the figure functions
(:mod:`initlab.parametrize.figures`) that draw the rows. It renders nothing itself: a report calls
:meth:`WidthSection.figures` for PNGs and lays out the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import check_choice
from .coord_check import coord_check
from .tasks import get_task
from .transfer import BUDGETS, CLAIM, run_transfer

__all__ = ["width_section", "WidthSection", "PAPER", "COORD_CHECK_SETTINGS"]

PAPER = {
    "coord_check": ("Tensor Programs V (Yang et al. 2022), Fig. 5 and the mup README: in SP trained with Adam, "
                    "activations and the output grow with width after one step; in μP every curve stays flat "
                    "(the readout's output may start at width^-1/2 and flattens after a few steps)."),
    "transfer": ("Tensor Programs V, Fig. 1 (Transformers on WikiText-2, Adam): under SP the best learning rate "
                 "shifts with width and wider models can be worse; under μP the best learning rate is the same at "
                 "every width and wider is always better."),
}
"""The statements of the paper the measured numbers are set against."""

COORD_CHECK_SETTINGS = {
    "quick": {"task": "mlp:depth=3", "widths": (64, 128, 256, 512), "steps": 3, "seeds": (0, 1), "lr": 1e-2},
    "full": {"task": "mlp:depth=3", "widths": (64, 128, 256, 512, 1024), "steps": 3, "seeds": (0, 1, 2), "lr": 1e-2},
}


@dataclass
class WidthSection:
    """Everything a report's μP section shows; ``figures(out_dir)`` writes the PNGs."""

    coord_rows: list[dict] = field(repr=False)
    coord_slopes: list[dict] = field(repr=False)
    coord_verdict: dict
    transfer_rows: list[dict] = field(repr=False)
    transfer_mean_rows: list[dict] = field(repr=False)
    transfer_verdict: dict
    settings: dict
    seconds: float
    paper: dict = field(default_factory=lambda: dict(PAPER))
    claim: str = CLAIM
    commands: dict = field(default_factory=dict)

    def figures(self, out_dir) -> dict[str, Path]:
        """Write ``coord_check.png`` and ``lr_transfer.png`` into ``out_dir``; returns their paths."""
        from .figures import coord_check_figure, transfer_figure

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"coord_check": out / "coord_check.png", "lr_transfer": out / "lr_transfer.png"}
        coord_check_figure(self.coord_rows, paths["coord_check"])
        transfer_figure(self.transfer_mean_rows, paths["lr_transfer"])
        return paths

    def deciding(self) -> list[dict]:
        """One row per criterion: what was checked, the measured figures, its status, and the paper's statement."""
        rows = [{"part": "coordinate check", "criterion": c["criterion"], "measured": c["measured"],
                 "status": "reproduced" if c["passed"] else "contradicted", "paper": self.paper["coord_check"]}
                for c in self.coord_verdict["checks"]]
        for task, tv in self.transfer_verdict["tasks"].items():
            rows += [{"part": f"lr transfer ({task})", "criterion": c["criterion"], "measured": c["measured"],
                      "status": c["status"], "paper": self.paper["transfer"]} for c in tv["checks"]]
        return rows


def width_section(budget: str = "quick", *, progress: Callable[[str], None] | None = None) -> WidthSection:
    """Measure the coordinate check (SP and μP, an MLP on mnist1d) and the ``mup-transfer`` claim at ``budget``."""
    budget = check_choice("budget", budget, tuple(BUDGETS))
    t0 = time.perf_counter()
    cc = COORD_CHECK_SETTINGS[budget]
    if progress is not None:
        progress("coordinate check")
    task = get_task(cc["task"])
    result = coord_check(task.model_fn, list(cc["widths"]), task.batch("train", 64, seed=0),
                         parametrization=("sp", "mup"), steps=cc["steps"], lr=cc["lr"], seeds=cc["seeds"])
    transfer, verdict = run_transfer(budget, progress=progress)
    widths = " ".join(map(str, cc["widths"]))
    commands = {"coord_check": f"initlab coordcheck {cc['task']} --widths {widths} --steps {cc['steps']} "
                               f"--seeds {len(cc['seeds'])}"}
    return WidthSection(result.mean_rows(), result.slopes(), result.verdict(), transfer.rows, transfer.mean_rows(),
                        verdict, {"coord_check": cc, "transfer": transfer.settings}, time.perf_counter() - t0,
                        commands=commands)
