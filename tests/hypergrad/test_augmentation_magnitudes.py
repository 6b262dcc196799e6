"""Hypergradients with respect to per-class augmentation magnitudes (hyperparameters that act
on the network's input) against central finite differences: float64, the random draw held
fixed (the closure re-seeds it), a small CNN with and without BatchNorm."""

import pytest
import torch
from inner_solve import central_differences, solve_inner
from torch import nn
from torch.func import functional_call

from autobalance.hypergrad import loss_input_fn, loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss

K, WD = 3, 1e-2


class SmallCNN(nn.Module):
    def __init__(self, batchnorm: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), *([nn.BatchNorm2d(2)] if batchnorm else []),
                                  nn.Tanh(), nn.Flatten())
        self.head = nn.Linear(2 * 6 * 6, K)

    def forward(self, x):
        return self.head(self.body(x))


def _problem(batchnorm: bool):
    torch.manual_seed(0)
    x, xv = torch.randn(24, 1, 6, 6, dtype=torch.float64), torch.randn(12, 1, 6, 6, dtype=torch.float64)
    y, yv = (x[:, 0, 2:4, 2:4].mean((1, 2)) > 0).long() + (x[:, 0, 0, 0] > 1).long(), torch.arange(12) % K
    model = SmallCNN(batchnorm).double()
    loss = ParametricLoss(K, learn=("augment",), augment_ops=("translate", "scale", "noise"),
                          augment={"translate": [0.05, 0.1, 0.15], "scale": 0.1, "noise": [0.1, 0.2, 0.05]},
                          augment_max_ratio=5.0).double()
    data_loss = model_closure(model, loss_module_fn(loss), [(x, y, None)], seed=3, input_fn=loss_input_fn(loss))

    def train_loss(params, hp):
        return data_loss(params, hp) + WD / 2 * sum((p**2).sum() for p in params.values())

    def val_loss(params, hp):
        return nn.functional.cross_entropy(functional_call(model, params, (xv,)), yv)

    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    return model, hparams, train_loss, val_loss


@pytest.fixture(scope="module", params=[False, pytest.param(True, marks=pytest.mark.slow)],
                ids=["cnn", "cnn_batchnorm"])
def problem(request):
    model, hparams, train_loss, val_loss = _problem(request.param)
    params = solve_inner(lambda p: train_loss(p, hparams), dict(model.named_parameters()))
    return params, hparams, train_loss, val_loss


def test_implicit_hypergradient_of_the_magnitudes_matches_finite_differences_of_the_inner_solve(problem):
    params, hparams, train_loss, val_loss = problem
    result = make_method("cg", max_iter=400, tol=1e-12).compute(params, hparams, train_loss, val_loss)
    ref = central_differences(lambda hp: val_loss(solve_inner(lambda p: train_loss(p, hp), params), hp), hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-4, atol=1e-7)
    assert all(result.grads[n].abs().max() > 1e-6 for n in hparams)  # every operation moves the objective


def test_unrolled_hypergradient_of_the_magnitudes_matches_finite_differences_of_the_unroll(problem):
    params, hparams, train_loss, val_loss = problem
    steps, lr, momentum = 3, 0.3, 0.9
    result = make_method("unrolled", steps=steps, lr=lr, momentum=momentum).compute(
        params, hparams, train_loss, val_loss)

    def unroll(hp):
        theta, buf = {n: p.detach() for n, p in params.items()}, None
        for _ in range(steps):
            leaf = {n: p.clone().requires_grad_(True) for n, p in theta.items()}
            g = dict(zip(leaf, torch.autograd.grad(train_loss(leaf, hp), list(leaf.values())), strict=True))
            buf = g if buf is None else {n: momentum * buf[n] + g[n] for n in theta}
            theta = {n: theta[n] - lr * buf[n] for n in theta}
        return val_loss(theta, hp)

    ref = central_differences(unroll, hparams)
    for n in hparams:  # gradients near 30: central differences carry ~1e-6 relative error there
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-5, atol=1e-9)
