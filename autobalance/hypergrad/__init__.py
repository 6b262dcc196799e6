"""Hypergradient methods behind one interface, usable without the training pipeline.

    method = make_method("cg", max_iter=20)
    result = method.compute(params, hparams, train_loss, val_loss, state)
    result.grads, result.finite, result.diagnostics, result.state

``params`` and ``hparams`` map names to tensors; ``train_loss`` and ``val_loss`` are closures
``(params, hparams) -> scalar`` (see :func:`model_closure`). Every method also takes a list of
training closures: their mean for implicit methods, one per look-ahead step for ``unrolled``;
``method.closures_needed(batches)`` says how many a search should pass. ``forward`` is the
exception that carries state through training: its ``advance`` runs before every training step
(:mod:`autobalance.hypergrad.forward`), and a search calls it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from autobalance.hypergrad.closures import loss_closure, loss_input_fn, loss_module_fn, loss_penalty_fn, model_closure
from autobalance.hypergrad.finite_difference import FiniteDifferenceHypergradient
from autobalance.hypergrad.forward import ForwardModeHypergradient, SGDStep
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
from autobalance.registry import Registry

METHODS: Registry[Callable[..., Any]] = Registry("search.hypergrad.method")
"""Hypergradient methods by name: ``builder(subset, damping, **options)``."""


def _implicit(solver: type, name: str, subset, damping, **options):
    return ImplicitHypergradient(solver(**options), subset, damping, name)


for _name, _solver in {"identity": IdentitySolver, "neumann": NeumannSolver, "cg": CGSolver,
                       "minres": MinresSolver}.items():
    METHODS.register(_name)(functools.partial(_implicit, _solver, _name))


@METHODS.register("last_layer")
def _last_layer(subset, damping, **options):
    return ImplicitHypergradient(LastLayerSolver(**options), subset or ("head",), damping, "last_layer")


@METHODS.register("unrolled")
def _unrolled(subset, damping, **options):
    return UnrolledHypergradient(**options)


@METHODS.register("forward")
def _forward(subset, damping, **options):
    return ForwardModeHypergradient(**options)


@METHODS.register("finite_difference")
def _finite_difference(subset, damping, **options):
    return FiniteDifferenceHypergradient(**options)


def make_method(name: str, subset: tuple[str, ...] | None = None, damping: float = 0.0,
                **options: Any):
    """Build a method by name. ``subset`` restricts the Hessian of implicit methods
    (``last_layer`` defaults to the ``head`` module: a dense exact solve for small heads,
    MINRES beyond ``dense_max_size`` parameters); other options go to the solver."""
    return METHODS[name](subset, damping, **options)


__all__ = [
    "METHODS", "CGSolver", "DenseSolver", "FiniteDifferenceHypergradient", "ForwardModeHypergradient",
    "HypergradResult", "SGDStep",
    "IdentitySolver", "ImplicitHypergradient", "LastLayerSolver", "MinresSolver", "NeumannSolver",
    "UnrolledHypergradient", "loss_closure", "loss_input_fn", "loss_module_fn", "loss_penalty_fn", "make_method",
    "model_closure",
]
