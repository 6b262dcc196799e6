"""BatchNorm, dropout and buffer semantics of the hyper-step passes; `higher` as an oracle."""

import copy

import higher
import pytest
import torch
from inner_solve import central_differences
from torch import nn

from autobalance.hypergrad import METHODS, loss_module_fn, make_method, model_closure
from autobalance.hypergrad.primitives import mixed_product, mixed_product_double_backward
from autobalance.losses import ParametricLoss


class SmallBNNet(nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.body(x))


def _setup(dropout=0.0, dtype=torch.float64):
    torch.manual_seed(0)
    model = SmallBNNet(dropout).to(dtype)
    loss = ParametricLoss(3, learn=("scales", "offsets", "weights"), scales=[1.0, 0.7, 0.5],
                          offsets=[0.2, 0.0, -0.2]).to(dtype)
    x, xv = torch.randn(12, 1, 6, 6, dtype=dtype), torch.randn(10, 1, 6, 6, dtype=dtype)
    y, yv = torch.arange(12) % 3, torch.arange(10) % 3
    train = model_closure(model, loss_module_fn(loss), [(x, y, None)], seed=1)
    val = model_closure(model, lambda z, t, g, hp: nn.functional.cross_entropy(z, t), [(xv, yv, None)],
                        seed=2)
    params = {n: p.detach() for n, p in model.named_parameters()}
    hparams = {n: p.detach() for n, p in loss.named_parameters()}
    return model, loss, (x, y, xv, yv), train, val, params, hparams


def test_unrolled_agrees_with_higher_on_a_batchnorm_cnn():
    model, loss, (x, y, xv, yv), train, val, params, hparams = _setup()
    steps, lr, momentum, wd = 3, 0.1, 0.9, 1e-3
    ours = make_method("unrolled", steps=steps, lr=lr, momentum=momentum, weight_decay=wd)
    result = ours.compute(params, hparams, train, val)

    reference_model = copy.deepcopy(model).train()
    opt = torch.optim.SGD(reference_model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    for p in loss.parameters():
        p.grad = None
    with higher.innerloop_ctx(reference_model, opt, copy_initial_weights=True) as (fmodel, diffopt):
        for _ in range(steps):
            diffopt.step(loss(fmodel(x), y))
        val_loss = nn.functional.cross_entropy(fmodel(xv), yv)
        expected = torch.autograd.grad(val_loss, list(loss.parameters()))
    for (name, _), ref in zip(loss.named_parameters(), expected, strict=True):
        torch.testing.assert_close(result.grads[name], ref, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_hyper_steps_never_change_batchnorm_statistics_or_buffers(method):
    model, _, _, train, val, params, hparams = _setup()
    before = {n: b.clone() for n, b in model.named_buffers()}
    model.eval()
    result = make_method(method).compute(params, hparams, train, val)
    assert result.finite and not model.training  # the caller's mode is restored
    for n, b in model.named_buffers():
        assert torch.equal(b, before[n]), n
    assert {"method", "hypergrad_norm", "seconds", "val_loss", "iterations"} <= set(result.diagnostics)


def test_dropout_masks_are_the_same_in_every_re_evaluation():
    model, _, _, train, val, params, hparams = _setup(dropout=0.5)
    assert torch.equal(train(params, hparams), train(params, hparams))
    a = make_method("cg", max_iter=5).compute(params, hparams, train, val)
    b = make_method("cg", max_iter=5).compute(params, hparams, train, val)
    for n in hparams:
        assert torch.equal(a.grads[n], b.grads[n])


def test_forward_mode_mixed_term_equals_double_backward_through_batchnorm():
    _, _, _, train, _, params, hparams = _setup()
    direction = torch.randn(sum(p.numel() for p in params.values()), dtype=torch.float64)
    fast = mixed_product(train, params, hparams, list(params), direction)
    slow = mixed_product_double_backward(train, params, hparams, list(params), direction)
    for n in hparams:
        torch.testing.assert_close(fast[n], slow[n], rtol=1e-9, atol=1e-12)


def test_hyperparameters_entering_the_input_get_the_exact_mixed_term():
    model, loss, (x, y, _, _), _, _, params, hparams = _setup()
    hparams = {"noise_scale": torch.tensor(0.3, dtype=torch.float64)}
    noise = torch.randn_like(x)

    def augmented(x_, y_, g_, hp):  # an augmentation strength acting on the input
        return x_ + hp["noise_scale"] * noise

    train = model_closure(model, lambda z, t, g, hp: loss(z, t), [(x, y, None)], input_fn=augmented)
    direction = torch.randn(sum(p.numel() for p in params.values()), dtype=torch.float64)
    got = mixed_product(train, params, hparams, list(params), direction)["noise_scale"]

    def directional(hp):
        leaf = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        grads = torch.autograd.grad(train(leaf, hp), list(leaf.values()))
        return torch.cat([g.reshape(-1) for g in grads]).dot(direction)

    ref = central_differences(directional, hparams)["noise_scale"]
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-9)
    assert got.abs() > 0


def test_losses_using_fused_log_softmax_fall_back_to_the_exact_double_backward():
    model, loss, (x, y, _, _), _, val, params, hparams = _setup()

    def fused(z, t, g, hp):
        return nn.functional.cross_entropy(z * hp["raw_scales"].exp()[0] + hp["raw_offsets"][0], t)

    train = model_closure(model, fused, [(x, y, None)])
    direction = torch.randn(sum(p.numel() for p in params.values()), dtype=torch.float64)
    got = mixed_product(train, params, hparams, list(params), direction)
    ref = mixed_product_double_backward(train, params, hparams, list(params), direction)
    torch.testing.assert_close(got["raw_scales"], ref["raw_scales"])


def test_non_finite_hypergradients_are_reported_not_hidden():
    _, _, _, train, val, params, hparams = _setup()

    def broken_val(p, hp):
        return val(p, hp) * torch.tensor(float("nan"), dtype=torch.float64)

    for method in ("identity", "cg", "unrolled"):
        result = make_method(method).compute(params, hparams, train, broken_val)
        assert not result.finite, method


def test_unknown_method_and_empty_subset_are_named():
    with pytest.raises(ValueError, match="search.hypergrad.method='adam': expected one of identity"):
        make_method("adam")
    _, _, _, train, val, params, hparams = _setup()
    with pytest.raises(ValueError, match="no parameter matches \\['classifier'\\]"):
        make_method("cg", subset=("classifier",)).compute(params, hparams, train, val)


@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, False), (0.9, False), (0.9, True)])
def test_recomputing_unroll_equals_the_graph_unroll(momentum, nesterov):
    _, _, _, train, val, params, hparams = _setup()
    kwargs = {"steps": 3, "lr": 0.1, "momentum": momentum, "weight_decay": 1e-3, "nesterov": nesterov}
    buffers = {"momentum_buffers": {n: 0.1 * torch.ones_like(p) for n, p in params.items()}}
    for state in ({}, buffers):
        graph = make_method("unrolled", **kwargs).compute(params, hparams, train, val, state)
        recompute = make_method("unrolled", memory="recompute", **kwargs).compute(params, hparams, train, val, state)
        for n in hparams:
            torch.testing.assert_close(recompute.grads[n], graph.grads[n], rtol=1e-10, atol=1e-13)


def test_the_inner_optimizer_travels_in_the_state_not_on_the_object():
    _, _, _, train, val, params, hparams = _setup()
    settings = {"lr": 0.05, "momentum": 0.5, "weight_decay": 1e-3, "nesterov": True}
    method = make_method("unrolled", steps=2)
    via_state = method.compute(params, hparams, train, val, dict(settings))
    configured = make_method("unrolled", steps=2, **settings).compute(params, hparams, train, val)
    for n in hparams:
        torch.testing.assert_close(via_state.grads[n], configured.grads[n], rtol=0, atol=0)
    assert (method.lr, method.momentum) == (0.1, 0.9) and via_state.state == {}
