"""Group-robustness baselines against their papers' formulas (groups: (attribute, class) cells)."""

import math

import pytest
import torch
import torch.nn.functional as F

from autobalance.config import LossConfig
from autobalance.losses.factory import build_loss, loss_config
from autobalance.losses.priors import inverse_frequency_weights

GROUP_COUNTS = [[90, 10], [5, 95]]  # rows: attribute, columns: class


def _batch():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(16, 2, dtype=torch.float64, generator=gen)
    y = torch.arange(16) % 2
    a = (torch.arange(16) // 2) % 2
    return z, y, a


def _group_means(z, y, a):
    ce = F.cross_entropy(z, y, reduction="none")
    return torch.stack([ce[(a == g) & (y == c)].mean() for g in (0, 1) for c in (0, 1)])


def test_group_reweighted_ce_weighs_each_group_by_its_inverse_frequency():
    z, y, a = _batch()
    loss = build_loss(LossConfig(name="group_reweighted"), [95, 105], GROUP_COUNTS).double()
    w = 1 / torch.tensor(GROUP_COUNTS, dtype=torch.float64)
    w = w / w.mean()
    expected = (w[a, y] * F.cross_entropy(z, y, reduction="none")).mean()
    torch.testing.assert_close(loss(z, y, a), expected)
    empty = inverse_frequency_weights([[10, 0], [30, 20]])
    assert math.isclose(float(empty[0, 1]), 1 / 20)  # no examples: the mean group size


def test_group_dro_follows_the_exponentiated_gradient_update():
    z, y, a = _batch()
    eta, c = 0.1, 2.0
    loss = build_loss(loss_config("group_dro", step_size=eta, adjustment=c), [95, 105], GROUP_COUNTS)
    loss = loss.double()
    adjusted = _group_means(z, y, a) + c / torch.tensor(GROUP_COUNTS, dtype=torch.float64).flatten().sqrt()
    q = torch.full((4,), 0.25, dtype=torch.float64)
    for _ in range(3):  # three steps on the same batch
        q = q * torch.exp(eta * adjusted)
        q = q / q.sum()
        torch.testing.assert_close(loss(z, y, a), adjusted @ q)
    torch.testing.assert_close(loss.group_weights, q)
    assert int(q.argmax()) == int(adjusted.argmax())  # the weights move to the worst group


def test_group_dro_weights_stay_put_without_gradients_and_a_missing_group_counts_zero():
    z, y, a = _batch()
    loss = build_loss(LossConfig(name="group_dro"), [95, 105], GROUP_COUNTS).double()
    with torch.no_grad():
        loss(z, y, a)
    assert torch.equal(loss.group_weights, torch.full((4,), 0.25, dtype=torch.float64))
    keep = ~((a == 1) & (y == 0))
    assert loss.group_losses(z[keep], y[keep], a[keep])[2] == 0


def test_group_dro_refuses_several_processes():
    from autobalance.config import ConfigError, RunConfig
    from autobalance.distributed import Ranks
    from autobalance.pipeline import check_shards

    cfg = RunConfig()
    cfg.loss = LossConfig(name="group_dro")
    with pytest.raises(ConfigError, match="single process"):
        check_shards(cfg, Ranks(rank=0, world_size=2, local_rank=0))


def test_group_logit_adjustment_uses_each_attributes_class_prior():
    z, y, a = _batch()
    tau = 0.5
    loss = build_loss(loss_config("group_la", tau=tau), [95, 105], GROUP_COUNTS).double()
    counts = torch.tensor(GROUP_COUNTS, dtype=torch.float64)
    prior = counts / counts.sum(1, keepdim=True)  # pi(y | a)
    offsets = tau * prior.log()
    expected = F.cross_entropy(z + (offsets - offsets.mean(1, keepdim=True))[a], y)
    torch.testing.assert_close(loss(z, y, a), expected)


def test_search_loss_can_start_at_group_logit_adjustment():
    from autobalance.losses.factory import build_search_loss
    from autobalance.losses.priors import group_logit_adjustment

    loss = build_search_loss(["offsets", "weights"], "group_la", [95, 105], GROUP_COUNTS)
    start = group_logit_adjustment(GROUP_COUNTS)
    torch.testing.assert_close(loss.offsets().double(), start - start.mean(1, keepdim=True), atol=1e-6, rtol=0)
    assert loss.raw_weights.shape == (2, 2) and loss.raw_weights.requires_grad
