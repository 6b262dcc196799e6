"""Training-time schedules: deferred re-weighting (DRW) and deferred re-sampling (DRS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autobalance.config import CLASS_BALANCED_BETA
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.priors import class_balanced_weights

SCHEDULES = ("none", "drw", "drs")


@dataclass
class LossSchedule:
    """Called at the start of every epoch; returns the sampler for that epoch.

    ``drw``: class-balanced weights (beta) from ``start_epoch`` on; ``drs``: class-balanced
    sampling from ``start_epoch`` on; ``none``: nothing changes.
    """

    name: str
    counts: Sequence[int]
    start_epoch: int = 0
    beta: float = CLASS_BALANCED_BETA
    default_sampler: str = "shuffle"

    def on_epoch(self, epoch: int, loss: ClassificationLoss) -> str:
        active = self.name != "none" and epoch >= self.start_epoch
        if self.name == "drw":
            loss.set_class_weights(class_balanced_weights(self.counts, self.beta).float()
                                   if active else None)
        if self.name == "drs" and active:
            return "class_balanced"
        return self.default_sampler
