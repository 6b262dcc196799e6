"""Group DRO (Sagawa et al., ICLR 2020): online minimization of the worst group's loss.

Groups are (class, attribute) cells. Each training step computes every group's mean loss in the
batch (zero for a group the batch lacks), adds the generalization adjustment
``C / sqrt(n_g)``, moves the group weights by exponentiated gradient ascent
``q_g <- q_g * exp(eta * adjusted_g)`` (normalized to sum one) and returns ``sum_g q_g *
adjusted_g``: the update and the objective of the authors' implementation. The weights are a
buffer, so checkpoints carry them and a resumed run continues with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from autobalance.group_metrics import index_means
from autobalance.losses.base import ClassificationLoss


class GroupDROLoss(ClassificationLoss):
    """Args:
        cell_counts: training examples per cell (a group of GroupDRO), an (attribute x class) table.
        step_size: eta of the exponentiated-gradient step on the group weights.
        adjustment: C of the ``C / sqrt(n_g)`` adjustment (0: none).
    """

    def __init__(self, cell_counts: Sequence[Sequence[int]], step_size: float = 0.01,
                 adjustment: float = 0.0) -> None:
        super().__init__()
        counts = torch.as_tensor(cell_counts, dtype=torch.float64)
        self.num_classes = counts.shape[1]
        self.step_size = step_size
        self.register_buffer("adjustments", adjustment / counts.flatten().clamp(min=1).sqrt())
        self.register_buffer("group_weights", torch.full((counts.numel(),), 1.0 / counts.numel(), dtype=torch.float64))

    def group_losses(self, logits: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        """Mean cross-entropy per group in the batch (0 where the batch has none), flattened."""
        index = targets if groups is None else groups * self.num_classes + targets
        return index_means(F.cross_entropy(logits, targets, reduction="none"), index, len(self.group_weights))[0]

    def per_example(self, logits, targets, groups=None):
        return F.cross_entropy(logits, targets, reduction="none")

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        adjusted = self.group_losses(logits, targets, groups) + self.adjustments.to(logits.dtype)
        if torch.is_grad_enabled():  # a training step: move the weights towards the worst groups
            with torch.no_grad():
                weights = self.group_weights * torch.exp(self.step_size * adjusted.double())
                self.group_weights.copy_(weights / weights.sum())
        return adjusted @ self.group_weights.to(logits.dtype)
