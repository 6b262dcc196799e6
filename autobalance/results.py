"""A finished run's results read back from its ``metrics.json``: what scripts need of a run
(its metrics, the time of each phase, what it cost) without restating how the pipeline names
its phases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMPARED_SUFFIX = "_test"
"""``<baseline>_test`` holds the test metrics of a ``search.compare_with`` baseline, trained in the
run as the phase ``<baseline>``."""


@dataclass(frozen=True)
class RunResults:
    metrics: dict[str, Any]
    """``metrics.json`` as written: ``test``, ``val``, ``train``, ``phase_seconds``, ..."""

    @classmethod
    def read(cls, run_dir: str | Path) -> RunResults:
        return cls(json.loads((Path(run_dir) / "metrics.json").read_text()))

    @property
    def test(self) -> dict[str, Any]:
        return self.metrics["test"]

    @property
    def phase_seconds(self) -> dict[str, float]:
        return dict(self.metrics.get("phase_seconds", {}))

    @property
    def compared(self) -> tuple[str, ...]:
        """The baselines trained beside the search for comparison (``search.compare_with``)."""
        return tuple(k.removesuffix(COMPARED_SUFFIX) for k in self.metrics
                     if k.endswith(COMPARED_SUFFIX) and k.removesuffix(COMPARED_SUFFIX) in self.phase_seconds)

    @property
    def cost_seconds(self) -> float:
        """Training seconds of the method itself: every phase (a search, its folds, the retrain, JTT's
        identification run, DFR's refit, weight balancing's classifier stage) except the compared
        baselines'."""
        compared = set(self.compared)
        return sum(seconds for phase, seconds in self.phase_seconds.items() if phase not in compared)
