"""Hand-designed baselines that are not special cases of the parametric family."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from autobalance.config import CLASS_BALANCED_BETA
from autobalance.losses.base import ClassificationLoss
from autobalance.losses.priors import class_balanced_weights, ldam_margins, logit_adjustment_offsets


class FocalLoss(ClassificationLoss):
    """Softmax focal loss -(1 - p_y)^gamma log p_y (the multi-class form LDAM-DRW compares to)."""

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__()
        self.gamma = gamma

    def per_example(self, logits, targets, groups=None):
        log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        # 1 - p_y, floored at the smallest normal number: at p_y == 1 the derivative of
        # (1 - p_y)^gamma is infinite for gamma < 1 and its product with log p_y = 0 is NaN.
        one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
        return -(one_minus_p**self.gamma) * log_p


class ClassBalancedFocalLoss(ClassificationLoss):
    """CB focal loss of Cui et al. (2019): sigmoid focal loss over the K one-vs-rest outputs,
    weighted by the class-balanced weight of the true class (weights sum to K)."""

    def __init__(self, counts: Sequence[int], beta: float = CLASS_BALANCED_BETA, gamma: float = 1.0) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("cb_weights", class_balanced_weights(counts, beta).float())

    def per_example(self, logits, targets, groups=None):
        labels = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        # (1 - p_t)^gamma in a stable form: exp(-gamma * (y z + log(1 + exp(-z))))
        modulator = torch.exp(-self.gamma * (labels * logits + F.softplus(-logits)))
        return self.cb_weights.to(logits.dtype)[targets] * (modulator * bce).sum(dim=1)


class LDAMLoss(ClassificationLoss):
    """Label-distribution-aware margin loss: CE(s * (z - m_y e_y)), m_k proportional to n_k^-1/4
    with the rarest class at ``max_margin``; meant for a normalized (cosine) head."""

    def __init__(self, counts: Sequence[int], max_margin: float = 0.5, scale: float = 30.0) -> None:
        super().__init__()
        self.scale = scale
        self.register_buffer("margins", ldam_margins(counts, max_margin).float())

    def per_example(self, logits, targets, groups=None):
        margin = F.one_hot(targets, logits.shape[1]).to(logits.dtype) * self.margins.to(logits.dtype)
        return F.cross_entropy(self.scale * (logits - margin), targets, reduction="none")


class PosthocLogitAdjustedCE(ClassificationLoss):
    """Plain CE in training; predictions use z - tau * log pi (Menon et al., post-hoc)."""

    def __init__(self, counts: Sequence[int], tau: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("correction", logit_adjustment_offsets(counts, tau).float())

    def per_example(self, logits, targets, groups=None):
        return F.cross_entropy(logits, targets, reduction="none")

    def eval_logits(self, logits):
        return logits - self.correction.to(logits.dtype)
