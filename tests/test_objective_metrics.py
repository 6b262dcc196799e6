import math

import pytest

from autobalance.config import ConfigError, ObjectiveConfig
from autobalance.objective_metrics import metric_name, with_objective_metrics

METRICS = {"per_class_accuracy": [0.9, 0.6, 0.3], "balanced_error": 40.0, "worst_class_error": 70.0,
           "class_error_std": 24.49}


@pytest.mark.parametrize(("spec", "name"), [
    (ObjectiveConfig("balanced_ce"), "balanced_error"),
    (ObjectiveConfig("worst_class"), "worst_class_error"),
    (ObjectiveConfig("worst_class", cvar_alpha=0.2), "cvar_error"),
    (ObjectiveConfig("class_std"), "class_error_std"),
    (ObjectiveConfig("weighted_ce", class_weights=[1, 1, 1]), "weighted_error"),
    (ObjectiveConfig("deo"), "deo"),
])
def test_each_objective_is_judged_by_its_own_exact_metric(spec, name):
    assert metric_name(spec) == name


def test_the_objective_error_uses_the_objectives_alpha_and_weights_by_class_name():
    cvar = with_objective_metrics(METRICS, ObjectiveConfig("worst_class", cvar_alpha=0.5), ["a", "b", "c"])
    assert cvar["cvar_alpha"] == 0.5 and math.isclose(cvar["objective_error"], 55.0)  # worst 2 of 3: 70, 40
    weighted = with_objective_metrics(METRICS, ObjectiveConfig("weighted_ce", class_weights={"c": 2.0}),
                                      ["a", "b", "c"])
    assert math.isclose(weighted["weighted_error"], (10 + 40 + 2 * 70) / 4)
    assert weighted["objective_metric"] == "weighted_error"


def test_a_blend_is_judged_by_the_same_blend_of_its_parts_metrics():
    spec = ObjectiveConfig("blend", weights={"balanced_ce": 1.0, "class_std": 0.5})
    out = with_objective_metrics(METRICS, spec, ["a", "b", "c"])
    assert out["objective_metric"] == "blend" and math.isclose(out["objective_error"], 40.0 + 0.5 * 24.49)


def test_a_gap_the_data_cannot_measure_leaves_the_objective_error_out():
    out = with_objective_metrics(METRICS, ObjectiveConfig("deo"), ["a", "b", "c"])
    assert "objective_error" not in out and out["balanced_error"] == 40.0


@pytest.mark.parametrize(("weights", "message"), [
    ([1.0, 2.0], "3 weights, one per class"),
    ({"d": 1.0}, "'d' is neither"),
    ([0, 0, 0], "not all zero"),
    ([1, -1, 1], "non-negative"),
])
def test_bad_class_weights_are_refused_naming_the_setting(weights, message):
    with pytest.raises(ConfigError, match=f"objective.class_weights=.*{message}"):
        with_objective_metrics(METRICS, ObjectiveConfig("weighted_ce", class_weights=weights), ["a", "b", "c"])
