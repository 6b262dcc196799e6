"""Per-class quantities derived from training counts, as defined by each baseline's paper."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from autobalance.config import CLASS_BALANCED_BETA
from autobalance.errors import InputError


def _counts(counts: Sequence[int]) -> torch.Tensor:
    c = torch.as_tensor(list(counts), dtype=torch.float64)
    if (c <= 0).any():
        raise InputError(f"every class needs at least one training example; counts={list(counts)}")
    return c


def class_priors(counts: Sequence[int]) -> torch.Tensor:
    c = _counts(counts)
    return c / c.sum()


def logit_adjustment_offsets(counts: Sequence[int], tau: float = 1.0) -> torch.Tensor:
    """l_k = tau * log pi_k (Menon et al. 2021).

    >>> logit_adjustment_offsets([90, 9, 1]).tolist()
    [-0.10536051565782628, -2.4079456086518722, -4.605170185988091]
    """
    return tau * class_priors(counts).log()


def cdt_scales(counts: Sequence[int], gamma: float) -> torch.Tensor:
    """scale_k = (n_k / n_max)^gamma (Ye et al., CDT; the multiplicative part of VS loss).

    >>> cdt_scales([100, 25, 1], 0.5).tolist()
    [1.0, 0.5, 0.1]
    """
    c = _counts(counts)
    return (c / c.max()) ** gamma


def class_balanced_weights(counts: Sequence[int], beta: float = CLASS_BALANCED_BETA) -> torch.Tensor:
    """w_k proportional to (1 - beta) / (1 - beta^n_k), normalized to sum to K (Cui et al. 2019)."""
    c = _counts(counts)
    w = (1.0 - beta) / (1.0 - beta**c)
    return w / w.sum() * len(c)


def ldam_margins(counts: Sequence[int], max_margin: float = 0.5) -> torch.Tensor:
    """m_k = C / n_k^(1/4) with C chosen so the rarest class gets ``max_margin`` (Cao et al.)."""
    m = _counts(counts) ** -0.25
    return m * (max_margin / m.max())


def inverse_frequency_weights(cell_counts: Sequence[Sequence[int]]) -> torch.Tensor:
    """Loss weights proportional to 1 / n_g per cell; a cell without training examples gets
    the weight of the mean cell size (it never meets a training example)."""
    counts = torch.as_tensor(cell_counts, dtype=torch.float64)
    counts = torch.where(counts > 0, counts, counts[counts > 0].mean())
    return 1.0 / counts


def group_logit_adjustment(cell_counts: Sequence[Sequence[int]], tau: float = 1.0) -> torch.Tensor:
    """Offsets ``tau * log pi(y | a)``: logit adjustment by each attribute value's own class
    prior, an (attribute x class) table (the correction of a spurious correlation's label shift
    within each attribute; a class never seen with an attribute gets half an example)."""
    return torch.stack([logit_adjustment_offsets([max(c, 0.5) for c in row], tau) for row in cell_counts])
