"""The inverse temperature that minimizes balanced cross-entropy on a batch of logits.

Balanced CE scores a model's confidence as well as its ranking: a model trained to interpolation
is overconfident, and its confident mistakes on rare classes dominate the objective, which a
stronger logit adjustment lowers whether or not balanced error improves. Fitting one temperature
to the batch first (as temperature scaling does after training, Guo et al. 2017) takes the
global confidence out of the objective. ``beta * z`` with ``beta >= 0`` is convex in ``beta``
(a log-sum-exp of functions linear in it, minus one), so its derivative
``mean_classes mean(E_softmax(beta z)[z] - z_y)`` rises with ``beta`` and bisection finds its root
in a fixed number of steps with no data-dependent branch (safe under ``torch.func``).
"""

from __future__ import annotations

import torch

from autobalance.group_metrics import per_index_means

BETA_MAX = 100.0
"""The largest inverse temperature searched: a batch the logits separate perfectly has its
minimum at infinity and gets this one."""


def balanced_slope(beta: torch.Tensor, z: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """d/d beta of balanced CE(beta * z): the class-balanced mean of ``E_p[z] - z_y``."""
    p = torch.softmax(beta * z, 1)
    per_example = (p * z).sum(1) - z.gather(1, y[:, None]).squeeze(1)
    return per_index_means(per_example, y, num_classes).mean()


def fitted_inverse_temperature(z: torch.Tensor, y: torch.Tensor, num_classes: int,
                               steps: int = 60) -> torch.Tensor:
    """The ``beta`` in [0, BETA_MAX] minimizing balanced CE(beta * z) over the batch, detached
    (by the envelope theorem the objective's gradient at the minimum treats it as a constant)."""
    z = z.detach()
    low = torch.zeros((), dtype=z.dtype, device=z.device)
    high = torch.full((), BETA_MAX, dtype=z.dtype, device=z.device)
    for _ in range(steps):
        middle = (low + high) / 2
        rising = balanced_slope(middle, z, y, num_classes) > 0
        low, high = torch.where(rising, low, middle), torch.where(rising, middle, high)
    return (low + high) / 2
