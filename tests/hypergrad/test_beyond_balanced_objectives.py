"""Hypergradients of the objectives beyond balanced error (CVaR of class CE, the spread of class CE
blended with balanced CE, cost-weighted CE) against central differences of the exact inner solve,
float64: the same check every other objective passes."""

import pytest
import torch
from inner_solve import central_differences, linear_problem, solve_inner

from autobalance.config import ObjectiveConfig
from autobalance.hypergrad import make_method
from autobalance.losses import ParametricLoss
from autobalance.objectives import build_objective

WD = 1e-2
SPECS = {
    "cvar": ObjectiveConfig("worst_class", cvar_alpha=0.5),
    "spread_blend": ObjectiveConfig("blend", weights={"balanced_ce": 1.0, "class_std": 1.0}),
    "weighted": ObjectiveConfig("weighted_ce", class_weights={"b": 3.0, "c": 0.5}),
}


def _attribute_map(map_hidden: int = 0) -> ParametricLoss:
    """Scales and offsets as linear maps from two class attributes (and an intercept); with
    ``map_hidden``, plus a two-layer map moved off its zero start (so its hidden weights matter)."""
    attributes = torch.tensor([[0.0, -0.5, -1.5], [0.4, 0.0, 0.1]], dtype=torch.float64)
    loss = ParametricLoss(3, learn=("scales", "offsets"), parametrization="attributes", class_attributes=attributes,
                          offsets=[0.1, -0.2, 0.1], scales=[1.0, 0.9, 1.2], map_hidden=map_hidden)
    with torch.no_grad():
        for name, p in loss.named_parameters():
            if name.startswith("map_out_"):
                p.copy_(torch.linspace(-0.3, 0.4, p.numel()).reshape(p.shape))
    return loss


FAMILIES = {"per_class": lambda: None, "attributes": _attribute_map, "attributes_mlp": lambda: _attribute_map(2)}


def _problem(spec, loss=None):
    loss = (loss or ParametricLoss(3, learn=("scales", "offsets"), offsets=[0.1, -0.2, 0.1])).double()
    return linear_problem(loss, build_objective(spec, 3, class_names=["a", "b", "c"]), WD)


@pytest.mark.parametrize("family", ["per_class", "attributes",
                                    pytest.param("attributes_mlp", marks=pytest.mark.slow)])
@pytest.mark.parametrize("objective", sorted(SPECS))
@pytest.mark.parametrize("method", ["cg", "last_layer"])
def test_hypergradients_of_beyond_balanced_objectives_match_finite_differences(objective, method, family):
    _check_against_finite_differences(objective, method, family)


def test_the_two_layer_attribute_map_has_exact_hypergradients():
    """The fast tier's case of the two-layer map (every objective and method: the slow tier)."""
    _check_against_finite_differences("cvar", "last_layer", "attributes_mlp")


def _check_against_finite_differences(objective, method, family):
    params, hparams, train_loss, val_loss = _problem(SPECS[objective], FAMILIES[family]())
    options = {"max_iter": 200, "tol": 1e-12} if method == "cg" else {"subset": ("weight", "bias")}
    result = make_method(method, **options).compute(params, hparams, train_loss, val_loss)
    reference = central_differences(lambda hp: val_loss(solve_inner(lambda p: train_loss(p, hp), params), hp),
                                    hparams)
    for name in hparams:
        assert reference[name].abs().max() > 1e-4  # the objective does move with each table
        torch.testing.assert_close(result.grads[name], reference[name], rtol=1e-5, atol=1e-8)
