import math

import pytest
import torch
import torch.nn.functional as F

from autobalance.config import ConfigError, ObjectiveConfig
from autobalance.objectives import build_objective

Z = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 1.0, 1.0], [3.0, 0.0, 0.0]])
Y = torch.tensor([0, 1, 2, 0, 0])
CE = F.cross_entropy(Z, Y, reduction="none")
PER_CLASS = torch.stack([CE[[0, 3, 4]].mean(), CE[1], CE[2]])


def test_balanced_ce_is_the_mean_of_per_class_means():
    obj = build_objective(ObjectiveConfig("balanced_ce"), 3)
    torch.testing.assert_close(obj(Z, Y, None), PER_CLASS.mean())
    four = build_objective(ObjectiveConfig("balanced_ce"), 4)  # an absent class is left out
    torch.testing.assert_close(four(Z, Y, None), PER_CLASS.mean())


def test_worst_class_soft_maximum_lies_between_mean_and_max():
    for t in (0.1, 1.0, 10.0):
        value = build_objective(ObjectiveConfig("worst_class", temperature=t), 3)(Z, Y, None)
        assert PER_CLASS.mean() <= value <= PER_CLASS.max() + 1e-6
    sharp = build_objective(ObjectiveConfig("worst_class", temperature=1e-3), 3)(Z, Y, None)
    assert math.isclose(float(sharp), float(PER_CLASS.max()), rel_tol=1e-2)
    cvar = build_objective(ObjectiveConfig("worst_class", cvar_alpha=0.5), 3)(Z, Y, None)
    torch.testing.assert_close(cvar, PER_CLASS.topk(2).values.mean())


def test_expected_error_and_blend():
    p = torch.softmax(Z, 1)[torch.arange(5), Y]
    err = torch.stack([(1 - p[[0, 3, 4]]).mean(), 1 - p[1], 1 - p[2]]).mean()
    torch.testing.assert_close(build_objective(ObjectiveConfig("expected_error"), 3)(Z, Y, None), err)
    blend = build_objective(ObjectiveConfig("blend", weights={"balanced_ce": 0.25, "expected_error": 0.75}), 3)
    torch.testing.assert_close(blend(Z, Y, None), 0.25 * PER_CLASS.mean() + 0.75 * err)


def test_annealed_objective_moves_geometrically_from_the_first_temperature_to_the_final():
    annealed = build_objective(ObjectiveConfig("expected_error", temperature=2.0, final_temperature=0.5), 3)

    def fixed(t):
        return build_objective(ObjectiveConfig("expected_error", temperature=t), 3)(Z, Y, None)

    for progress, temperature in ((0.0, 2.0), (0.5, 1.0), (1.0, 0.5), (1.7, 0.5)):
        annealed.progress = progress
        assert annealed.temperature == pytest.approx(temperature)
        torch.testing.assert_close(annealed(Z, Y, None), fixed(temperature))
    assert not torch.allclose(fixed(2.0), fixed(0.5))  # the temperature matters to this objective


def test_annealed_objective_refuses_a_bad_spec_when_built():
    with pytest.raises(ConfigError, match="objective.weights"):
        build_objective(ObjectiveConfig("blend", final_temperature=0.5), 3)
    with pytest.raises(ConfigError, match="objective.final_temperature=0.5: expected null for objective=balanced_ce"):
        build_objective(ObjectiveConfig("balanced_ce", final_temperature=0.5), 3)
    blend = ObjectiveConfig("blend", weights={"balanced_ce": 0.5, "worst_class": 0.5}, final_temperature=0.5)
    assert build_objective(blend, 3).temperature == 1.0  # its worst-class part has a temperature
    with pytest.raises(ConfigError, match="expected null for objective=worst_class"):  # CVaR ignores T
        build_objective(ObjectiveConfig("worst_class", cvar_alpha=0.5, final_temperature=0.5), 3)
    assert build_objective(ObjectiveConfig("worst_class", final_temperature=0.5), 3).temperature == 1.0


A = torch.tensor([0, 0, 1, 1, 1])  # attribute; groups (attribute, class): (0,0):[0], (0,1):[1], (1,0):[3,4], (1,2):[2]
GROUP_CE = {(0, 0): CE[0], (0, 1): CE[1], (1, 0): CE[[3, 4]].mean(), (1, 2): CE[2]}


def test_worst_group_is_taken_over_class_attribute_cells():
    obj = build_objective(ObjectiveConfig("worst_group", temperature=1e-4), 3, num_attribute_values=2)
    assert math.isclose(float(obj(Z, Y, A)), float(max(GROUP_CE.values())), rel_tol=1e-3)
    mean = build_objective(ObjectiveConfig("group_balanced"), 3, num_attribute_values=2)
    torch.testing.assert_close(mean(Z, Y, A), torch.stack(list(GROUP_CE.values())).mean())


def test_deo_is_the_papers_ce_surrogate():
    # only class 0 is seen under both attribute values: |L(0, a=0) - L(0, a=1)|
    deo = build_objective(ObjectiveConfig("deo"), 3, num_attribute_values=2)
    torch.testing.assert_close(deo(Z, Y, A), (GROUP_CE[(0, 0)] - GROUP_CE[(1, 0)]).abs())
    eo = build_objective(ObjectiveConfig("equalized_odds", temperature=1e-4), 3, num_attribute_values=2)
    torch.testing.assert_close(eo(Z, Y, A), (GROUP_CE[(0, 0)] - GROUP_CE[(1, 0)]).abs(), atol=1e-3, rtol=0)


def test_demographic_parity_compares_mean_predicted_probabilities():
    p = torch.softmax(Z, 1)
    gaps = (p[:2].mean(0) - p[2:].mean(0)).abs()
    dp = build_objective(ObjectiveConfig("demographic_parity", temperature=1e-4), 3, num_attribute_values=2)
    torch.testing.assert_close(dp(Z, Y, A), gaps.max(), atol=1e-3, rtol=0)


def test_trade_off_interpolates_accuracy_and_fairness():
    spec = ObjectiveConfig("trade_off", accuracy="balanced_ce", fairness="deo", fairness_weight=0.25)
    value = build_objective(spec, 3, num_attribute_values=2)(Z, Y, A)
    deo = build_objective(ObjectiveConfig("deo"), 3, num_attribute_values=2)(Z, Y, A)
    torch.testing.assert_close(value, 0.75 * PER_CLASS.mean() + 0.25 * deo)


@pytest.mark.parametrize("name", ["worst_group", "group_balanced", "deo", "equalized_odds", "demographic_parity",
                                  "trade_off"])
def test_group_objectives_have_correct_gradients(name):
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(12, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.arange(12) % 3
    a = (torch.arange(12) // 3) % 2
    obj = build_objective(ObjectiveConfig(name), 3, num_attribute_values=2)
    assert torch.autograd.gradcheck(lambda logits: obj(logits, y, a), (z,))


def test_fairness_objectives_need_an_attribute():
    from autobalance.config import ConfigError

    with pytest.raises(ConfigError, match="data.attribute_column"):
        build_objective(ObjectiveConfig("deo"), 3)
    with pytest.raises(ConfigError, match="objective.fairness"):
        build_objective(ObjectiveConfig("trade_off", fairness="balanced_ce"), 3, num_attribute_values=2)


def test_bad_blend_is_rejected():
    from autobalance.config import ConfigError

    with pytest.raises(ConfigError, match="objective.weights"):
        build_objective(ObjectiveConfig("blend", weights={"accuracy": 1.0}), 3)


def _scored_batch(seed=0, n=40, classes=3):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    z = torch.randn(n, classes, generator=g, dtype=torch.float64)
    z[torch.arange(n), y] += 1.0
    return z, y


def test_calibrated_balanced_ce_is_the_least_balanced_ce_over_temperatures():
    z, y = _scored_batch()
    objective = build_objective(ObjectiveConfig("calibrated_balanced_ce"), 3)
    plain = build_objective(ObjectiveConfig("balanced_ce"), 3)
    grid = torch.stack([plain(b * z, y, None) for b in torch.linspace(0.05, 4.0, 800, dtype=torch.float64)])
    value = objective(z, y, None)
    assert value <= grid.min() + 1e-12 and value > grid.min() - 1e-5
    # an interpolating model's confidence is out of it: scaling the logits leaves it unchanged
    torch.testing.assert_close(objective(6 * z, y, None), value)
    assert plain(6 * z, y, None) > plain(z, y, None) + 0.5  # where plain balanced CE rises


def test_calibrated_balanced_ce_gradient_matches_finite_differences_under_torch_func():
    z, y = _scored_batch(seed=1)
    objective = build_objective(ObjectiveConfig("calibrated_balanced_ce"), 3)
    analytic = torch.func.grad(lambda logits: objective(logits, y, None))(z)
    eps, numeric = 1e-6, torch.zeros_like(z)
    for i in range(z.numel()):
        step = torch.zeros_like(z)
        step.view(-1)[i] = eps
        numeric.view(-1)[i] = (objective(z + step, y, None) - objective(z - step, y, None)) / (2 * eps)
    torch.testing.assert_close(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_class_std_is_the_spread_of_the_per_class_ce():
    torch.testing.assert_close(build_objective(ObjectiveConfig("class_std"), 3)(Z, Y, None),
                               PER_CLASS.std(correction=0))


def test_weighted_ce_weighs_the_per_class_ce_by_name_or_index():
    by_name = build_objective(ObjectiveConfig("weighted_ce", class_weights={"x": 2.0, "z": 0.0}), 3,
                              class_names=["x", "y", "z"])
    torch.testing.assert_close(by_name(Z, Y, None), (2 * PER_CLASS[0] + PER_CLASS[1]) / 3)
    by_index = build_objective(ObjectiveConfig("weighted_ce", class_weights=[2.0, 1.0, 0.0]), 3)
    torch.testing.assert_close(by_index(Z, Y, None), by_name(Z, Y, None))
    with pytest.raises(ConfigError, match="objective.class_weights=None: expected per-class weights"):
        build_objective(ObjectiveConfig("weighted_ce"), 3)


@pytest.mark.parametrize("spec", [ObjectiveConfig("class_std"), ObjectiveConfig("worst_class", cvar_alpha=0.4),
                                  ObjectiveConfig("weighted_ce", class_weights=[0.5, 2.0, 1.0])])
def test_beyond_balanced_objectives_have_correct_gradients(spec):
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(12, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.arange(12) % 3
    obj = build_objective(spec, 3)
    assert torch.autograd.gradcheck(lambda logits: obj(logits, y, None), (z,))


@pytest.mark.parametrize("alpha", [0.2, 0.3, 0.7])
def test_the_cvar_objective_averages_as_many_classes_as_its_test_metric(alpha):
    from autobalance.metrics import cvar_error
    from autobalance.objectives import soft_maximum

    errors = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)  # 0.3 * 10 is 3.0000000000000004 in floats
    torch.testing.assert_close(100 * soft_maximum(errors, 1.0, alpha), torch.tensor(cvar_error(1 - errors, alpha),
                                                                                    dtype=torch.float64))
