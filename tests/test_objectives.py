import math

import pytest
import torch
import torch.nn.functional as F

from autobalance.config import ObjectiveConfig
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


def test_worst_group_uses_group_labels():
    g = torch.tensor([0, 0, 1, 1, 1])
    obj = build_objective(ObjectiveConfig("worst_group", temperature=1e-4), 3, num_groups=2)
    assert math.isclose(float(obj(Z, Y, g)), float(max(CE[:2].mean(), CE[2:].mean())), rel_tol=1e-3)


def test_bad_blend_is_rejected():
    from autobalance.config import ConfigError

    with pytest.raises(ConfigError, match="objective.weights"):
        build_objective(ObjectiveConfig("blend", weights={"accuracy": 1.0}), 3)
