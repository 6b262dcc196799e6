"""Implicit-function-theorem hypergradients:

    dL_val/dalpha = dL_val/dalpha|direct - (d2 L_train / dalpha dtheta_S) p,
    p ~ (H_S + damping I)^-1 grad_theta_S L_val,

with H_S the training-loss Hessian over a chosen parameter subset S.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from autobalance.hypergrad.closures import averaged_over_shards, mean_closure
from autobalance.hypergrad.methods import register_method
from autobalance.hypergrad.primitives import (
    HessianOperator,
    detached,
    flatten,
    leaf_copy,
    mixed_product,
    select,
)
from autobalance.hypergrad.solvers import (
    CGSolver,
    IdentitySolver,
    LastLayerSolver,
    MinresSolver,
    NeumannSolver,
)
from autobalance.hypergrad.types import HypergradResult, LossFn, Params, make_result


def validation_gradients(val_loss: LossFn, params: Params, hparams: Params,
                         subset: list[str]) -> tuple[torch.Tensor, Params, float]:
    """(flat grad_theta_S L_val, direct grad_alpha L_val, L_val), averaged over the ranks when
    ``val_loss`` is sharded."""
    active = leaf_copy({n: params[n] for n in subset})
    hp = leaf_copy(hparams)
    loss = val_loss({**detached(params), **active}, hp)
    inputs = list(active.values()) + list(hp.values())
    *grads, loss = averaged_over_shards(val_loss, [*torch.autograd.grad(loss, inputs, materialize_grads=True),
                                                   loss.detach()])
    v = flatten(grads[: len(active)])
    direct = dict(zip(hp, grads[len(active) :], strict=True))
    return v, direct, float(loss)


def all_finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


@dataclass
class ImplicitHypergradient:
    """An implicit hypergradient with a pluggable solver and Hessian restriction.

    Args:
        solver: IdentitySolver, NeumannSolver, CGSolver or DenseSolver.
        subset: parameter names (or module prefixes such as ``"head"``) forming S; None is all.
        damping: added to the Hessian's diagonal.
    """

    solver: Any = field(default_factory=IdentitySolver)
    subset: Sequence[str] | None = None
    damping: float = 0.0
    name: str = "implicit"

    def closures_needed(self, batches: int) -> int:
        """Training closures a call takes: one per batch (their mean is the training loss)."""
        return batches

    def compute(self, params: Params, hparams: Params, train_loss: LossFn | Sequence[LossFn], val_loss: LossFn,
                state: dict[str, Any] | None = None) -> HypergradResult:
        """``train_loss``: one closure, or a list (one per batch) whose mean is the training loss."""
        start = time.perf_counter()
        train_loss = mean_closure(train_loss)
        state = state or {}
        subset = select(params, self.subset)
        v, direct, val_value = validation_gradients(val_loss, params, hparams, subset)
        needs_hessian = not isinstance(self.solver, IdentitySolver)
        hvp = (HessianOperator(train_loss, params, hparams, subset, self.damping)
               if needs_hessian else None)
        p, info, state = self.solver(hvp, v, state)
        if hvp is not None and len(subset) < len(params):
            mixed = hvp.mixed(p.detach())  # restricted Hessian: its graph is cheap to reuse
        else:
            mixed = mixed_product(train_loss, params, hparams, subset, p.detach())
        grads = {n: direct[n] - mixed[n] for n in hparams}
        residual = info.get("residual")
        finite = all_finite(grads.values()) and (residual is None or math.isfinite(residual))
        diagnostics = {"method": self.name, **info, "hvp_calls": 0 if hvp is None else hvp.calls,
                       "hessian_params": sum(params[n].numel() for n in subset), "val_loss": val_value}
        return make_result(grads, finite, diagnostics, start, state)


def _implicit(solver: type, name: str, subset, damping, **options) -> ImplicitHypergradient:
    return ImplicitHypergradient(solver(**options), subset, damping, name)


for _name, _solver in {"identity": IdentitySolver, "neumann": NeumannSolver, "cg": CGSolver,
                       "minres": MinresSolver}.items():
    register_method(_name)(functools.partial(_implicit, _solver, _name))


@register_method("last_layer")
def _last_layer(subset, damping, **options) -> ImplicitHypergradient:
    return ImplicitHypergradient(LastLayerSolver(**options), subset or ("head",), damping, "last_layer")
