"""The outer update as a chain: the anchor's pull is clipped with the hypergradient, the prior's
is added after the clip, and the optimizer steps on what the chain leaves."""

import torch

from autobalance.config import OuterConfig
from autobalance.outer_update import OuterUpdate, prior_strength


def _update(displacement: float, **outer) -> tuple[OuterUpdate, torch.nn.Parameter]:
    """One parameter of 4 entries, moved ``displacement`` from its start; plain SGD at lr 1, so
    a step is minus the gradient the chain produced."""
    p = torch.nn.Parameter(torch.zeros(4))
    update = OuterUpdate({"p": p}, OuterConfig(optimizer="sgd", lr=1.0, momentum=0.0, **outer))
    with torch.no_grad():
        p.add_(displacement)
    return update, p


def _step(update: OuterUpdate, p: torch.nn.Parameter, grad: torch.Tensor) -> tuple[torch.Tensor, dict]:
    before, record = p.detach().clone(), {}
    update.apply({"p": grad}, record)
    return p.detach() - before, record


def test_the_anchors_pull_is_clipped_with_the_hypergradient():
    update, p = _update(1.0, anchor=10.0, clip=1.0)
    step, record = _step(update, p, torch.zeros(4))
    assert record["clipped_norm"] == 20.0  # the pull 10 * 1 on 4 entries, before the clip
    torch.testing.assert_close(step, torch.full((4,), -0.5))  # clipped to norm 1


def test_the_priors_pull_is_added_after_the_clip():
    update, p = _update(1.0, clip=1.0, prior_width=0.5)
    strength = prior_strength(OuterConfig(clip=1.0, prior_width=0.5), 4)
    assert strength == 1.0  # clip / (sqrt(4) * 0.5)
    step, record = _step(update, p, torch.full((4,), 3.0))  # norm 6, clipped to 1: 0.5 per entry
    assert record["clipped_norm"] == 6.0
    torch.testing.assert_close(step, torch.full((4,), -(0.5 + strength * 1.0)))


def test_without_anchor_prior_or_clip_the_step_is_the_optimizers_alone_and_the_callers_gradient_is_kept():
    update, p = _update(1.0, clip=None)
    grad = torch.full((4,), 3.0)
    step, record = _step(update, p, grad)
    torch.testing.assert_close(step, -grad)
    assert record == {} and update.transforms == []
    update, p = _update(1.0, anchor=1.0, clip=1.0)
    _step(update, p, grad)
    assert torch.equal(grad, torch.full((4,), 3.0))  # the chain edited a copy


def test_a_restored_start_is_the_one_pulled_towards():
    update, p = _update(0.0, anchor=1.0, clip=None)
    state = update.state_dict()
    state["start"] = {"p": torch.full((4,), 2.0)}
    update.load_state_dict(state)
    step, _ = _step(update, p, torch.zeros(4))
    torch.testing.assert_close(step, torch.full((4,), 2.0))  # pulled up towards 2, not held at 0


def test_the_back_off_scales_the_learning_rate():
    update, p = _update(0.0, clip=None)
    assert update.scale_lr(0.5) == 0.5
    step, _ = _step(update, p, torch.ones(4))
    torch.testing.assert_close(step, torch.full((4,), -0.5))
