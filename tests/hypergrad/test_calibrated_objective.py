"""Hypergradients of the calibrated objective (balanced CE after the temperature fitted to the
validation batch) against central differences of the inner solve (float64): the fitted
temperature moves with the hyperparameters, and the envelope theorem says the methods may hold
it fixed."""

import pytest
import torch
from inner_solve import central_differences, linear_problem, solve_inner

from autobalance.config import ObjectiveConfig
from autobalance.hypergrad import make_method
from autobalance.losses import ParametricLoss
from autobalance.objectives import build_objective

WD = 1e-2


def _problem():
    loss = ParametricLoss(3, learn=("scales", "offsets"), counts=[30, 20, 10], parametrization="power_law",
                          offsets=[0.1, -0.2, 0.1]).double()
    return linear_problem(loss, build_objective(ObjectiveConfig("calibrated_balanced_ce"), 3), WD)


@pytest.mark.parametrize("method", ["cg", "minres"])
def test_hypergradient_of_the_calibrated_objective_matches_finite_differences(method):
    params, hparams, train_loss, val_loss = _problem()
    result = make_method(method, max_iter=200, tol=1e-12).compute(params, hparams, train_loss, val_loss)
    reference = central_differences(lambda hp: val_loss(solve_inner(lambda p: train_loss(p, hp), params), hp),
                                    hparams)
    for name in hparams:
        assert reference[name].abs().max() > 1e-4  # the objective does move with each exponent
        torch.testing.assert_close(result.grads[name], reference[name], rtol=1e-5, atol=1e-8)
