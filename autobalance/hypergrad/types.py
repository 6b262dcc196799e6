"""Shared types: parameter dicts, loss closures and the result of one hypergradient call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params, Params], torch.Tensor]
"""``loss(params, hparams) -> scalar``: model parameters and hyperparameters by name."""


@dataclass
class HypergradResult:
    """Hypergradient by hyperparameter name, whether it may be applied, and diagnostics.

    ``finite`` is False when the hypergradient or the solver residual is not finite; such a
    result must never be applied (the search loop skips it and counts the skip).
    """

    grads: Params
    finite: bool
    diagnostics: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def norm(self) -> float:
        return float(torch.sqrt(sum((g.double() ** 2).sum() for g in self.grads.values())))


def make_result(grads: Params, finite: bool, diagnostics: dict[str, Any], start: float,
                state: dict[str, Any] | None = None) -> HypergradResult:
    """Every method's result: the norm and the elapsed seconds since ``start`` join its diagnostics."""
    result = HypergradResult(grads, finite, state=state or {})
    result.diagnostics = {**diagnostics, "hypergrad_norm": result.norm, "seconds": time.perf_counter() - start}
    return result
