"""The power-law parametrization: every part of the loss is one learned exponent per group times
log(n_k / n_max), the shape the baselines share: CDT/VS scales (n_k / n_max)^gamma, logit
adjustment's offsets tau * log pi_k (equal up to the constant softmax ignores), loss weights
proportional to n_k^-beta. A search learns two or three numbers instead of K per part, the
numbers a grid search over VS would tune."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from autobalance.errors import InputError
from autobalance.losses.priors import cdt_scales

PARAMETRIZATIONS = ("per_class", "power_law", "attributes")
"""``attributes``: each part a linear map from per-class attributes (:mod:`autobalance.class_attributes`),
the power law's generalization (its one attribute is log(n_k / n_max), unstandardized)."""


def log_relative_frequency(counts: Sequence[int]) -> torch.Tensor:
    """log(n_k / n_max), the (K,) shape every part takes; refuses counts that are all equal
    (the shape is then zero and no exponent moves the loss)."""
    shape = cdt_scales(counts, 1.0).log()
    if bool((shape == 0).all()):
        raise InputError(f"the power-law parametrization needs classes of different frequencies; "
                         f"every class has {int(counts[0])} training examples")
    return shape


def fit_exponents(raw: torch.Tensor, shape: torch.Tensor, shift_invariant: bool) -> torch.Tensor:
    """The (G, 1) exponents whose multiples of ``shape`` are closest (least squares) to the
    (G, K) stored tables ``raw``: exact for tables of the form exponent * shape (the baselines'
    starts), a projection for others. ``shift_invariant`` parts (offsets, log-weights) are compared
    after removing their means."""
    if shift_invariant:
        raw, shape = raw - raw.mean(dim=-1, keepdim=True), shape - shape.mean()
    return (raw @ shape / (shape @ shape)).unsqueeze(-1)


def fit_coefficients(raw: torch.Tensor, basis: torch.Tensor, shift_invariant: bool) -> torch.Tensor:
    """The (G, A) coefficients whose combinations of the (A, K) ``basis`` rows are closest (least
    squares) to the (G, K) tables ``raw``; :func:`fit_exponents` for several attributes."""
    if shift_invariant:
        raw, basis = raw - raw.mean(dim=-1, keepdim=True), basis - basis.mean(dim=-1, keepdim=True)
    return raw @ torch.linalg.pinv(basis)  # the least-norm solution: a row the centring zeroes gets 0
