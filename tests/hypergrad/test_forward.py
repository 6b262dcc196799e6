"""Forward-mode hypergradients: the derivative of the final model's validation loss through a
whole short training run, against float64 central differences of that run."""

import copy

import pytest
import torch
from torch import nn

from autobalance.hypergrad import SGDStep, loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss

K, STEPS, WD, MOMENTUM = 3, 8, 1e-2, 0.9
LRS = [0.05 * (1 + 0.5 * (i % 3)) for i in range(STEPS)]
"""A learning rate that changes from step to step, as a schedule's does."""


def _problem(batchnorm: bool):
    torch.manual_seed(0)
    layers = [nn.Linear(4, 6)] + ([nn.BatchNorm1d(6)] if batchnorm else []) + [nn.Tanh(), nn.Linear(6, K)]
    model = nn.Sequential(*layers).double()
    batches = []
    for _ in range(STEPS):
        x = torch.randn(12, 4, dtype=torch.float64)
        batches.append((x, (x[:, 0] > 0).long() + (x[:, 1] > 0.8).long(), None))
    xv = torch.randn(30, 4, dtype=torch.float64)
    val = (xv, (xv[:, 0] > 0).long() + (xv[:, 1] > 0.8).long(), None)
    loss = ParametricLoss(K, learn=("scales", "offsets", "weights"), counts=[50, 20, 5], parametrization="power_law",
                          scales=[1.0, 0.8, 0.6], offsets=[0.1, -0.2, 0.1]).double()
    return model, loss, batches, val


def _train(model, loss, batches, hparams, nesterov, method=None):
    """STEPS real SGD steps (PyTorch's optimizer) with the loss at ``hparams``; with ``method``,
    its tangents advanced before each. Returns the state of the tangents."""
    opt = torch.optim.SGD(model.parameters(), lr=LRS[0], momentum=MOMENTUM, weight_decay=WD, nesterov=nesterov)
    state = None
    for i, batch in enumerate(batches):
        closure = model_closure(model, loss_module_fn(loss), [batch], seed=i)
        params = {n: p.detach() for n, p in model.named_parameters()}
        if method is not None:
            state = method.advance(state, params, hparams, closure,
                                   SGDStep(LRS[i], MOMENTUM, WD, nesterov, first=i == 0))
        for group in opt.param_groups:
            group["lr"] = LRS[i]
        opt.zero_grad()
        closure(dict(model.named_parameters()), hparams).backward()
        opt.step()
    return state


def _val_loss(model, loss, val):
    return model_closure(model, loss_module_fn(loss), [val])


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("nesterov", [False, True])
def test_forward_mode_matches_central_differences_of_the_whole_run(batchnorm, nesterov):
    model0, loss, batches, val = _problem(batchnorm)
    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    model = copy.deepcopy(model0)
    method = make_method("forward")
    state = _train(model, loss, batches, hparams, nesterov, method)
    final = {n: p.detach() for n, p in model.named_parameters()}
    result = method.compute(final, hparams, None, _val_loss(model, loss, val), state)

    def final_val(hp):
        m = copy.deepcopy(model0)
        _train(m, loss, batches, hp, nesterov)
        return float(_val_loss(m, loss, val)({n: p.detach() for n, p in m.named_parameters()}, hp))

    eps = 1e-5
    for name, h in hparams.items():
        plus, minus = dict(hparams), dict(hparams)
        plus[name], minus[name] = h + eps, h - eps
        expected = (final_val(plus) - final_val(minus)) / (2 * eps)
        assert result.grads[name].item() == pytest.approx(expected, rel=1e-6, abs=1e-9), name
    assert result.finite and result.diagnostics["tangent_norm"] > 0


def test_reset_keeps_only_the_steps_since_the_last_hyper_step():
    model, loss, batches, val = _problem(batchnorm=False)
    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    method = make_method("forward", reset=True)
    state = _train(model, loss, batches, hparams, nesterov=False, method=method)
    final = {n: p.detach() for n, p in model.named_parameters()}
    result = method.compute(final, hparams, None, _val_loss(model, loss, val), state)
    assert all(float(t.abs().max()) == 0.0 for t in result.state.values())
    assert float(state["tangents"].abs().max()) > 0


def test_a_family_of_many_entries_is_refused_naming_the_way_out():
    model, _, _, _ = _problem(batchnorm=False)
    loss = ParametricLoss(100, learn=("scales", "offsets"))
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    with pytest.raises(ValueError, match="this loss has 200 .*parametrization=power_law"):
        make_method("forward").init_state(params, hparams)
