"""Hypergradients of the calibrated objective (balanced CE after the temperature fitted to the
validation batch) against central differences of the inner solve (float64): the fitted
temperature moves with the hyperparameters, and the envelope theorem says the methods may hold
it fixed."""

import pytest
import torch
from inner_solve import central_differences, solve_inner, three_class_labels
from torch import nn
from torch.func import functional_call

from autobalance.config import ObjectiveConfig
from autobalance.hypergrad import loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.objectives import build_objective

WD = 1e-2


def _problem():
    torch.manual_seed(0)
    x, xv = torch.randn(60, 4, dtype=torch.float64), torch.randn(30, 4, dtype=torch.float64)
    y, yv = three_class_labels(x), three_class_labels(xv)
    model = nn.Linear(4, 3).double()
    loss = ParametricLoss(3, learn=("scales", "offsets"), counts=[30, 20, 10], parametrization="power_law",
                          offsets=[0.1, -0.2, 0.1]).double()
    data_loss = model_closure(model, loss_module_fn(loss), [(x, y, None)])
    objective = build_objective(ObjectiveConfig("calibrated_balanced_ce"), 3)

    def train_loss(params, hp):
        return data_loss(params, hp) + WD / 2 * sum((p**2).sum() for p in params.values())

    def val_loss(params, hp):
        return objective(functional_call(model, params, (xv,)), yv, None)

    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    params = solve_inner(lambda p: train_loss(p, hparams), dict(model.named_parameters()))
    return params, hparams, train_loss, val_loss


@pytest.mark.parametrize("method", ["cg", "minres"])
def test_hypergradient_of_the_calibrated_objective_matches_finite_differences(method):
    params, hparams, train_loss, val_loss = _problem()
    result = make_method(method, max_iter=200, tol=1e-12).compute(params, hparams, train_loss, val_loss)
    reference = central_differences(lambda hp: val_loss(solve_inner(lambda p: train_loss(p, hp), params), hp),
                                    hparams)
    for name in hparams:
        assert reference[name].abs().max() > 1e-4  # the objective does move with each exponent
        torch.testing.assert_close(result.grads[name], reference[name], rtol=1e-5, atol=1e-8)
