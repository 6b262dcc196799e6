"""Post-hoc search: logit offsets fitted to a trained model's validation outputs.

With the logits Z of the validation split fixed, the objective O(Z + b) is an explicit function
of the offsets b (no inner problem), so its gradient is exact; Adam follows it on the full
validation set. The offsets are ``per_class`` (K numbers), ``power_law`` (tau * log pi_k: post-hoc
logit adjustment with a fitted tau) or ``attributes`` (b = theta^T A, a linear map from the class
attributes A of :mod:`autobalance.class_attributes`, as many numbers as attributes). The test
predictions are argmax(z + b).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autobalance.objectives import Objective


@dataclass
class PosthocFit:
    offsets: torch.Tensor
    """(K,) offsets added to the logits, mean zero."""
    coefficients: torch.Tensor
    """The fitted numbers: K offsets, tau, or one coefficient per attribute."""
    objective_before: float
    objective_after: float


def offset_basis(parametrization: str, num_classes: int, log_frequency: torch.Tensor | None = None,
                 attributes: torch.Tensor | None = None) -> torch.Tensor:
    """The (P, K) matrix whose rows the offsets are a combination of."""
    if parametrization == "per_class":
        return torch.eye(num_classes, dtype=torch.float64)
    if parametrization == "power_law":
        return torch.as_tensor(log_frequency, dtype=torch.float64)[None]
    if parametrization == "attributes":
        return torch.as_tensor(attributes, dtype=torch.float64)
    raise ValueError(f"unknown parametrization {parametrization!r}")


def fit_offsets(logits: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor | None, objective: Objective,
                basis: torch.Tensor, steps: int = 300, lr: float = 0.05) -> PosthocFit:
    """Offsets b = c^T ``basis`` that lower ``objective(logits + b, labels, attributes)``, from b = 0,
    by ``steps`` of Adam on the exact gradient; the lowest objective seen wins (a last step that
    overshoots is not taken)."""
    z = logits.detach().double().cpu()
    y, a = labels.cpu(), None if attributes is None else attributes.cpu()
    basis = basis.double().cpu()
    c = torch.zeros(len(basis), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([c], lr=lr)

    def value(coefficients: torch.Tensor) -> torch.Tensor:
        return objective(z + coefficients @ basis, y, a)

    with torch.no_grad():
        before = float(value(c))
    best, best_c = before, c.detach().clone()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = value(c)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            current = float(value(c))
        if current < best:
            best, best_c = current, c.detach().clone()
    offsets = best_c @ basis
    return PosthocFit(offsets - offsets.mean(), best_c, before, best)
