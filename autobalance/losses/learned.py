"""A loss learned by a search, from its file (``loss=learned loss.path=...``)."""

from __future__ import annotations

from dataclasses import dataclass

from autobalance.config import LossConfig, require
from autobalance.losses.factory import register_loss
from autobalance.losses.io import load_loss


@dataclass
class LearnedConfig(LossConfig):
    path: str | None = None
    """A learned-loss file (``learned_loss.yaml``) that a search exported."""

    def __post_init__(self) -> None:
        require(bool(self.path), "loss.path", self.path, "a learned-loss file when loss=learned")


@register_loss("learned", LearnedConfig, baselines={})  # a file of its own, no preset
def _learned(cfg, counts, cell_counts):
    return load_loss(cfg.path, num_classes=len(counts))
