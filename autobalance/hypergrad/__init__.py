"""Hypergradient methods behind one interface, usable without the training pipeline.

    method = make_method("cg", max_iter=20)
    result = method.compute(params, hparams, train_loss, val_loss, state)
    result.grads, result.finite, result.diagnostics, result.state

``params`` and ``hparams`` map names to tensors; ``train_loss`` and ``val_loss`` are closures
``(params, hparams) -> scalar`` (see :func:`model_closure`). Every method also takes a list of
training closures: their mean for implicit methods, one per look-ahead step for ``unrolled``;
``method.closures_needed(batches)`` says how many a search should pass. ``forward`` is the
exception that carries state through training: its ``advance`` runs before every training step
(:mod:`autobalance.hypergrad.forward`), and a search calls it. The contract a search relies on is
:class:`HypergradMethod`; each method's module registers it beside its class (``register_method``).
"""

from __future__ import annotations

from autobalance.hypergrad.closures import loss_closure, loss_input_fn, loss_module_fn, loss_penalty_fn, model_closure
from autobalance.hypergrad.finite_difference import FiniteDifferenceHypergradient
from autobalance.hypergrad.forward import ForwardModeHypergradient, SGDStep
from autobalance.hypergrad.implicit import ImplicitHypergradient
from autobalance.hypergrad.methods import METHODS, HypergradMethod, make_method, register_method
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

__all__ = [
    "METHODS", "CGSolver", "DenseSolver", "FiniteDifferenceHypergradient", "ForwardModeHypergradient",
    "HypergradMethod", "HypergradResult", "SGDStep",
    "IdentitySolver", "ImplicitHypergradient", "LastLayerSolver", "MinresSolver", "NeumannSolver",
    "UnrolledHypergradient", "loss_closure", "loss_input_fn", "loss_module_fn", "loss_penalty_fn", "make_method",
    "model_closure", "register_method",
]
