"""Label-aware smoothing (MiSLAS, Zhong et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from autobalance.config import LossConfig, require
from autobalance.losses.factory import fixed_loss, register_loss


def label_aware_smoothing(counts: Sequence[int], head: float, tail: float) -> torch.Tensor:
    """MiSLAS's label-aware smoothing (Zhong et al., CVPR 2021), its linear form: eps_k from ``tail``
    at the rarest class to ``head`` at the most frequent, linear in n_k."""
    n = torch.as_tensor(list(counts), dtype=torch.float64)
    span = (n.max() - n.min()).clamp_min(1.0)
    return tail + (head - tail) * (n - n.min()) / span


@dataclass
class LabelAwareSmoothingConfig(LossConfig):
    smooth_head: float = 0.3
    """The most frequent class's smoothing (the paper's CIFAR-10-LT value)."""
    smooth_tail: float = 0.0
    """The rarest class's smoothing."""

    def __post_init__(self) -> None:
        for key in ("smooth_head", "smooth_tail"):
            require(0 <= getattr(self, key) < 1, f"loss.{key}", getattr(self, key), "in [0, 1)")


@register_loss("las", LabelAwareSmoothingConfig)
def _las(cfg, counts, cell_counts):
    return fixed_loss(counts, label_smoothing=label_aware_smoothing(counts, cfg.smooth_head, cfg.smooth_tail),
                  smoothing_max=1 - 1e-6)
