"""Training-time schedules: deferred re-weighting (DRW) and deferred re-sampling (DRS)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autobalance.config import CLASS_BALANCED_BETA
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.priors import class_balanced_weights
from autobalance.registry import Registry

SCHEDULES: Registry[Callable[[LossSchedule, ClassificationLoss, bool], str | None]] = Registry("schedule.name")
"""Loss schedules by name: ``step(schedule, loss, active) -> sampler or None`` at each epoch
start, ``active`` from ``start_epoch`` on; None keeps the configured sampler."""


@SCHEDULES.register("none")
def _none(schedule, loss, active):
    return None


@SCHEDULES.register("drw")
def _deferred_reweighting(schedule, loss, active):
    loss.set_class_weights(class_balanced_weights(schedule.counts, schedule.beta).float() if active else None)
    return None


@SCHEDULES.register("drs")
def _deferred_resampling(schedule, loss, active):
    return "class_balanced" if active else None


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
        return SCHEDULES[self.name](self, loss, epoch >= self.start_epoch) or self.default_sampler
