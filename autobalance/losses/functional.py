"""Cross-entropy written so that reverse mode can differentiate its forward-mode derivative.

PyTorch's fused ``log_softmax`` / ``logsumexp`` forward-AD formulas modify a tensor in place,
so ``autograd.grad`` of a JVP tangent through them fails when the logits depend on the
hyperparameters. The mixed second derivative of the hypergradient engine needs exactly that
(reverse over forward), so the learnable family uses these versions.
"""

from __future__ import annotations

import torch


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    shifted = logits - logits.detach().amax(dim, keepdim=True)
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-example -log softmax(logits)_y (no reduction)."""
    return -log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)
