"""Hypergradient methods behind one interface, usable without the training pipeline.

    method = make_method("cg", max_iter=20)
    result = method.compute(params, hparams, train_loss, val_loss, state)
    result.grads, result.finite, result.diagnostics, result.state

``params`` and ``hparams`` map names to tensors; ``train_loss`` and ``val_loss`` are closures
``(params, hparams) -> scalar`` (see :func:`model_closure`).
"""

from __future__ import annotations

from typing import Any

from autobalance.hypergrad.closures import loss_module_fn, model_closure
from autobalance.hypergrad.finite_difference import FiniteDifferenceHypergradient
from autobalance.hypergrad.implicit import ImplicitHypergradient
from autobalance.hypergrad.solvers import (
    CGSolver,
    DenseSolver,
    IdentitySolver,
    LastLayerSolver,
    MinresSolver,
    NeumannSolver,
)
from autobalance.hypergrad.types import HypergradResult
from autobalance.hypergrad.unrolled import UnrolledHypergradient

METHODS = ("identity", "neumann", "cg", "minres", "last_layer", "unrolled", "finite_difference")


def make_method(name: str, subset: tuple[str, ...] | None = None, damping: float = 0.0,
                **options: Any):
    """Build a method by name. ``subset`` restricts the Hessian of implicit methods
    (``last_layer`` defaults to the ``head`` module: a dense exact solve for small heads,
    MINRES beyond ``dense_max_size`` parameters); other options go to the solver."""
    if name == "identity":
        return ImplicitHypergradient(IdentitySolver(**options), subset, damping, name)
    if name == "neumann":
        return ImplicitHypergradient(NeumannSolver(**options), subset, damping, name)
    if name == "cg":
        return ImplicitHypergradient(CGSolver(**options), subset, damping, name)
    if name == "minres":
        return ImplicitHypergradient(MinresSolver(**options), subset, damping, name)
    if name == "last_layer":
        return ImplicitHypergradient(LastLayerSolver(**options), subset or ("head",), damping, name)
    if name == "unrolled":
        return UnrolledHypergradient(**options)
    if name == "finite_difference":
        return FiniteDifferenceHypergradient(**options)
    raise ValueError(f"unknown hypergradient method {name!r}; expected one of {METHODS}")


__all__ = [
    "METHODS", "CGSolver", "DenseSolver", "FiniteDifferenceHypergradient", "HypergradResult",
    "IdentitySolver", "ImplicitHypergradient", "LastLayerSolver", "MinresSolver", "NeumannSolver",
    "UnrolledHypergradient", "loss_module_fn", "make_method", "model_closure",
]
