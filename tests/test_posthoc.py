"""The post-hoc search: offsets fitted to fixed validation logits by the exact gradient of the
objective (no inner problem)."""

import math

import pytest
import torch

from autobalance.class_attributes import attribute_matrix
from autobalance.config import ObjectiveConfig
from autobalance.objectives import build_objective
from autobalance.posthoc import fit_offsets, offset_basis

PRIOR = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)


def _posterior_logits(n: int = 30000, seed: int = 0):
    """Labels balanced, logits the exact log posterior under the long-tailed PRIOR: a model trained
    by plain ERM on long-tailed data, evaluated on balanced data (Menon et al. 2021's setting)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(3).repeat(n // 3)
    means = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]], dtype=torch.float64)
    x = means[y] + torch.randn(len(y), 2, dtype=torch.float64, generator=gen)
    log_likelihood = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(-1)
    return log_likelihood + PRIOR.log(), y


def test_post_hoc_offsets_for_balanced_ce_recover_the_bayes_adjustment_minus_log_prior():
    z, y = _posterior_logits()
    objective = build_objective(ObjectiveConfig("balanced_ce"), 3)
    fit = fit_offsets(z, y, None, objective, offset_basis("per_class", 3), steps=400, lr=0.05)
    expected = -PRIOR.log() + PRIOR.log().mean()
    torch.testing.assert_close(fit.offsets, expected, atol=0.05, rtol=0)
    assert fit.objective_after < fit.objective_before
    power = fit_offsets(z, y, None, objective, offset_basis("power_law", 3, log_frequency=PRIOR.log()), steps=400)
    assert math.isclose(float(power.coefficients[0]), -1.0, abs_tol=0.05)  # tau = 1: post-hoc LA


def test_the_gradient_the_fit_follows_is_exact():
    z, y = _posterior_logits(300)
    basis = offset_basis("per_class", 3)
    objective = build_objective(ObjectiveConfig("worst_class", temperature=0.5), 3)
    c = torch.tensor([0.2, -0.1, 0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: objective(z + c @ basis, y, None), (c,))


def test_cvar_offsets_lower_the_worst_class_more_than_balanced_offsets_do():
    z, y = _posterior_logits(3000, seed=1)
    cvar = build_objective(ObjectiveConfig("worst_class", cvar_alpha=0.34), 3)
    balanced = fit_offsets(z, y, None, build_objective(ObjectiveConfig("balanced_ce"), 3),
                           offset_basis("per_class", 3), steps=300)
    worst = fit_offsets(z, y, None, cvar, offset_basis("per_class", 3), steps=300)
    assert float(cvar(z + worst.offsets, y, None)) < float(cvar(z + balanced.offsets, y, None))


def test_the_lowest_objective_seen_is_kept_when_adam_overshoots():
    z, y = _posterior_logits(300)
    objective = build_objective(ObjectiveConfig("balanced_ce"), 3)
    fit = fit_offsets(z, y, None, objective, offset_basis("per_class", 3), steps=20, lr=50.0)
    assert fit.objective_after <= fit.objective_before
    assert math.isclose(float(objective(z + fit.coefficients @ torch.eye(3, dtype=torch.float64), y, None)),
                        fit.objective_after, rel_tol=1e-9)


def test_an_attribute_map_has_one_number_per_attribute_that_varies():
    matrix, kept = attribute_matrix(["log_frequency", "noise_rate", "difficulty"],
                                    {"log_frequency": [0.0, -1.0, -2.0], "noise_rate": [0.4, 0.4, 0.4],
                                     "difficulty": [0.1, 0.5, 0.3]})
    assert kept == ["log_frequency", "difficulty"] and matrix.shape == (2, 3)
    torch.testing.assert_close(matrix.mean(1), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(matrix.std(1, correction=0), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="'noise_rate' has no values in this run .*data.label_noise"):
        attribute_matrix(["noise_rate"], {"noise_rate": None})
    with pytest.raises(ValueError, match="the same for every class"):
        attribute_matrix(["noise_rate"], {"noise_rate": [0.1, 0.1, 0.1]})
