"""Logistic regression and a small MLP trained with the parametric loss (float64).

References: central differences of the full inner solve (implicit methods), of the head-only
solve with features fixed (last_layer), of the K-step unroll (unrolled), and of the mixed
term itself (identity, whose inverse Hessian is eta I by definition).
"""

import pytest
import torch
from inner_solve import central_differences, solve_inner
from torch import nn
from torch.func import functional_call

from autobalance.hypergrad import loss_module_fn, make_method, model_closure
from autobalance.losses import ParametricLoss

K, WD = 3, 1e-2


class Net(nn.Module):
    def __init__(self, hidden: int | None) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, hidden), nn.Tanh()) if hidden else nn.Identity()
        self.head = nn.Linear(hidden or 4, K)

    def forward(self, x):
        return self.head(self.body(x))


def _problem(hidden, parametrization="per_class"):
    torch.manual_seed(0)
    x = torch.randn(60, 4, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    xv = torch.randn(30, 4, dtype=torch.float64)
    yv = (xv[:, 0] + 0.5 * xv[:, 1] > 0).long() + (xv[:, 2] > 1).long()
    model = Net(hidden).double()
    # counts only matter to the power law (one exponent per part: 3 hyperparameters)
    loss = ParametricLoss(K, learn=("scales", "offsets", "weights"), counts=[50, 20, 5],
                          parametrization=parametrization, scales=[1.0, 0.8, 0.6],
                          offsets=[0.1, -0.2, 0.1], weights=[1.0, 1.5, 2.0]).double()
    ce = loss_module_fn(loss)

    def batch_loss(logits, yy, g, hp):
        return ce(logits, yy, g, hp)

    data_loss = model_closure(model, batch_loss, [(x, y, None)])

    def train_loss(params, hp):
        return data_loss(params, hp) + WD / 2 * sum((p**2).sum() for p in params.values())

    def val_loss(params, hp):
        return nn.functional.cross_entropy(functional_call(model, params, (xv,)), yv)

    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    params = solve_inner(lambda p: train_loss(p, hparams), dict(model.named_parameters()))
    return params, hparams, train_loss, val_loss


@pytest.fixture(scope="module", params=[(None, "per_class"), (6, "per_class"), (6, "power_law")],
                ids=["logistic", "mlp", "mlp-power_law"])
def problem(request):
    return _problem(*request.param)


def _implicit_reference(problem, names=None):
    params, hparams, train_loss, val_loss = problem

    def outer(hp):
        return val_loss(solve_inner(lambda p: train_loss(p, hp), params, names), hp)

    return central_differences(outer, hparams)


@pytest.mark.parametrize(
    ("name", "options"),
    [("cg", {"max_iter": 200, "tol": 1e-12}), ("minres", {"max_iter": 200, "tol": 1e-12}),
     ("neumann", {"terms": 3000})],
)
def test_implicit_methods_match_finite_differences_of_the_inner_solve(problem, name, options):
    params, hparams, train_loss, val_loss = problem
    result = make_method(name, **options).compute(params, hparams, train_loss, val_loss)
    assert result.finite
    ref = _implicit_reference(problem)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-4, atol=1e-7)


def test_last_layer_matches_finite_differences_of_the_head_only_solve(problem):
    params, hparams, train_loss, val_loss = problem
    result = make_method("last_layer").compute(params, hparams, train_loss, val_loss)
    ref = _implicit_reference(problem, names=["head.weight", "head.bias"])
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-5, atol=1e-8)


def test_identity_is_minus_eta_times_the_mixed_derivative(problem):
    params, hparams, train_loss, val_loss = problem
    eta = 0.5
    result = make_method("identity", eta=eta).compute(params, hparams, train_loss, val_loss)
    leaf = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    v = torch.autograd.grad(val_loss(leaf, hparams), list(leaf.values()))
    v = dict(zip(leaf, v, strict=True))

    def directional(hp):
        inner = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        g = torch.autograd.grad(train_loss(inner, hp), list(inner.values()))
        return sum((gi * v[n]).sum() for n, gi in zip(inner, g, strict=True))

    ref = central_differences(directional, hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], -eta * ref[n], rtol=1e-6, atol=1e-9)
    fd = make_method("finite_difference", eta=eta).compute(params, hparams, train_loss, val_loss)
    for n in hparams:
        torch.testing.assert_close(fd.grads[n], result.grads[n], rtol=1e-3, atol=1e-6)


def test_unrolled_matches_finite_differences_of_the_unroll(problem):
    params, hparams, train_loss, val_loss = problem
    steps, lr, momentum = 4, 0.3, 0.9
    result = make_method("unrolled", steps=steps, lr=lr, momentum=momentum,
                         weight_decay=1e-3).compute(params, hparams, train_loss, val_loss)

    def unroll(hp):
        theta = {n: p.detach() for n, p in params.items()}
        buf = None
        for _ in range(steps):
            leaf = {n: p.requires_grad_(True) for n, p in ((n, p.clone()) for n, p in theta.items())}
            g = dict(zip(leaf, torch.autograd.grad(train_loss(leaf, hp), list(leaf.values())), strict=True))
            d = {n: g[n] + 1e-3 * theta[n] for n in theta}
            buf = d if buf is None else {n: momentum * buf[n] + d[n] for n in theta}
            theta = {n: theta[n] - lr * buf[n] for n in theta}
        return val_loss(theta, hp)

    ref = central_differences(unroll, hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-6, atol=1e-9)
