"""Baselines trained in stages around their one training run (JTT, DFR, weight balancing, the
validation-updated costs of ``adaptive_cost_la``). Each registers its stages beside its own code
(``autobalance/training/<name>.py``) under the name its loss's ``procedure`` metadata gives; the
pipeline runs check -> before -> the training (with its hooks) -> after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autobalance.config import RunConfig
from autobalance.data.bundle import DataBundle
from autobalance.losses.base import ClassificationLoss
from autobalance.registry import Registry
from autobalance.training.trainer import StepHook, Trainer

TrainPhase = Callable[..., Trainer]
"""``train_phase(cfg, data, phase, **trainer_options)``: a fresh model fitted as one timed phase of
the run (its checkpoints, logs and resumption included), as the pipeline trains every phase."""


@dataclass(frozen=True)
class Procedure:
    """A check of the data, a stage that makes the training data (training phases of its own
    through ``train_phase``), step hooks of the training that may change its loss (built with the
    training's loss), a stage on the trained model (timed as the phase ``after_phase``).
    Each stage's information goes to ``metrics.json`` under the procedure's name."""

    check: Callable[[RunConfig, DataBundle], None] | None = None
    before: Callable[[RunConfig, DataBundle, TrainPhase], tuple[DataBundle, dict[str, Any]]] | None = None
    hooks: Callable[[RunConfig, DataBundle, ClassificationLoss], tuple[StepHook, ...]] | None = None
    after: Callable[[RunConfig, Trainer, DataBundle, DataBundle], dict[str, Any]] | None = None
    after_phase: str = ""


PROCEDURES: Registry[Procedure] = Registry("a loss's procedure")
"""Multi-stage baselines by the ``procedure`` their loss registers with."""


def register_procedure(name: str, procedure: Procedure) -> Procedure:
    return PROCEDURES.register(name)(procedure)
