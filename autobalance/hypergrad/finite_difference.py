"""DARTS-style hypergradient: identity inverse Hessian with the mixed term by central
differences of grad_alpha L_train at theta +- eps v (Liu et al. 2019), for comparison."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autobalance.hypergrad.closures import averaged_over_shards, mean_closure
from autobalance.hypergrad.implicit import all_finite, validation_gradients
from autobalance.hypergrad.methods import register_method
from autobalance.hypergrad.primitives import grad_dict, leaf_copy, select, unflatten
from autobalance.hypergrad.types import HypergradResult, LossFn, Params, make_result


@dataclass
class FiniteDifferenceHypergradient:
    eta: float = 1.0
    radius: float = 0.01
    name: str = "finite_difference"

    def closures_needed(self, batches: int) -> int:
        return batches

    def compute(self, params: Params, hparams: Params, train_loss: LossFn | Sequence[LossFn], val_loss: LossFn,
                state: dict[str, Any] | None = None) -> HypergradResult:
        start = time.perf_counter()
        train_loss = mean_closure(train_loss)
        names = select(params, None)
        v, direct, val_value = validation_gradients(val_loss, params, hparams, names)
        eps = self.radius / float(v.norm().clamp(min=1e-12))
        steps = dict(zip(names, unflatten(v, [params[n] for n in names]), strict=True))

        def grad_at(sign: float) -> Params:
            shifted = {n: p.detach() + sign * eps * steps[n] for n, p in params.items()}
            hp = leaf_copy(hparams)
            grads = grad_dict(train_loss(shifted, hp), hp)
            return dict(zip(grads, averaged_over_shards(train_loss, list(grads.values())), strict=True))

        plus, minus = grad_at(1.0), grad_at(-1.0)
        grads = {n: direct[n] - self.eta * (plus[n] - minus[n]) / (2 * eps) for n in hparams}
        diagnostics = {"method": self.name, "iterations": 0, "epsilon": eps, "val_loss": val_value}
        return make_result(grads, all_finite(grads.values()), diagnostics, start, state)


@register_method("finite_difference")
def _finite_difference(subset, damping, **options) -> FiniteDifferenceHypergradient:
    return FiniteDifferenceHypergradient(**options)
