"""The interface every training loss shares."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class ClassificationLoss(nn.Module):
    """Subclasses give per-example losses; this class reduces them.

    Without ``class_weights`` the reduction is the plain mean. With them (set by the DRW
    schedule) it is the weighted mean normalized by the batch's weights, the semantics of
    ``F.cross_entropy(weight=...)`` used by LDAM-DRW.
    """

    class_weights: torch.Tensor | None

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("class_weights", None)

    def per_example(
        self, logits: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor | None = None
    ) -> torch.Tensor:
        losses = self.per_example(logits, targets, groups)
        if self.class_weights is None:
            return losses.mean()
        w = self.class_weights.to(losses.dtype)[targets]
        return (w * losses).sum() / w.sum()

    def set_class_weights(self, weights: torch.Tensor | None) -> None:
        self.class_weights = None if weights is None else weights.detach().clone()

    def penalty(self, params: Mapping[str, torch.Tensor], applied: float) -> torch.Tensor | None:
        """A regularizer on the model's parameters added to the training objective, beyond the
        ``applied`` weight decay of the optimizer (None here: the learned weight decay of the
        parametric family overrides this)."""
        return None

    def eval_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits used for prediction; post-hoc corrections override this."""
        return logits

    def augment_inputs(self, x: torch.Tensor, targets: torch.Tensor,
                       groups: torch.Tensor | None = None) -> torch.Tensor:
        """Training inputs as the loss wants them augmented before the network (none here; the
        parametric family's per-class augmentation strengths override this)."""
        return x
