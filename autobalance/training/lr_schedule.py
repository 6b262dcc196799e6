"""Learning rate as a pure function of the epoch (so resuming needs no scheduler state)."""

from __future__ import annotations

import math

from autobalance.config import OptimConfig


def lr_at(cfg: OptimConfig, epoch: int) -> float:
    """Linear warm-up over ``warmup_epochs`` (LDAM-DRW style), then the configured decay.

    ``step``: multiply by ``decay`` at each milestone passed; ``cosine``: cosine to zero over
    the remaining epochs; ``constant``: no decay.
    """
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / cfg.warmup_epochs
    if cfg.lr_schedule == "step":
        return cfg.lr * cfg.decay ** sum(epoch >= m for m in cfg.milestones)
    if cfg.lr_schedule == "cosine":
        span = max(cfg.epochs - cfg.warmup_epochs, 1)
        return 0.5 * cfg.lr * (1 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    return cfg.lr
