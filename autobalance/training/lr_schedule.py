"""Learning rate as a pure function of the epoch (so resuming needs no scheduler state)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from autobalance.config import OptimConfig
from autobalance.registry import Registry

LR_SCHEDULES: Registry[Callable[[OptimConfig, int], float]] = Registry("optim.lr_schedule")
"""The decay after the warm-up by name, ``schedule(cfg, epoch)`` for an epoch past the warm-up."""


@LR_SCHEDULES.register("constant")
def _constant(cfg: OptimConfig, epoch: int) -> float:
    return cfg.lr


@LR_SCHEDULES.register("step")
def _step(cfg: OptimConfig, epoch: int) -> float:
    """Multiplied by ``decay`` at each milestone passed."""
    return cfg.lr * cfg.decay ** sum(epoch >= m for m in cfg.milestones)


@LR_SCHEDULES.register("cosine")
def _cosine(cfg: OptimConfig, epoch: int) -> float:
    """Cosine to zero over the epochs after the warm-up."""
    span = max(cfg.epochs - cfg.warmup_epochs, 1)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))


def lr_at(cfg: OptimConfig, epoch: int) -> float:
    """Linear warm-up over ``warmup_epochs`` (LDAM-DRW style), then ``cfg.lr_schedule``'s decay."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / cfg.warmup_epochs
    return LR_SCHEDULES[cfg.lr_schedule](cfg, epoch)


def shortened(optim: OptimConfig, epochs: int) -> OptimConfig:
    """The training schedule cut to ``epochs``, milestones scaled with it."""
    ratio = epochs / optim.epochs
    return dataclasses.replace(optim, epochs=epochs, warmup_epochs=min(optim.warmup_epochs, epochs - 1),
                               milestones=[round(m * ratio) for m in optim.milestones])
