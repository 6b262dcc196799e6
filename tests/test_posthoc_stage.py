"""The post-hoc stage in a run: offsets fitted on the held-out validation split to the run's
objective, the adjusted model reported beside the unadjusted one."""

import dataclasses
import json

import pytest

from autobalance.config import ConfigError, ObjectiveConfig, PosthocConfig, RunConfig
from autobalance.pipeline import run


def test_a_baseline_with_a_post_hoc_stage_on_the_cvar_objective(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, train_on_val=False,
                              objective=ObjectiveConfig("worst_class", cvar_alpha=0.2),
                              posthoc=PosthocConfig(enabled=True, parametrization="attributes",
                                                    attributes=["log_frequency", "difficulty", "training_loss"]))
    result = run(cfg, tmp_path)
    posthoc = json.loads((tmp_path / "metrics.json").read_text())["posthoc"]
    assert posthoc["attributes"] == ["log_frequency", "difficulty", "training_loss"]
    assert len(posthoc["coefficients"]) == 3
    assert posthoc["val_objective_after"] <= posthoc["val_objective_before"]
    for split in ("val", "test"):
        assert posthoc[split]["objective_metric"] == "cvar_error" and posthoc[split]["cvar_alpha"] == 0.2
    assert result["test"]["objective_error"] == result["test"]["cvar_error"]  # the unadjusted model, as before
    assert abs(sum(posthoc["offsets"])) < 1e-9


def test_a_post_hoc_stage_refuses_a_final_model_that_trained_on_validation():
    with pytest.raises(ConfigError, match="posthoc.enabled=True: expected false unless the final model leaves"):
        RunConfig(posthoc=PosthocConfig(enabled=True))
