"""Hypergradients with respect to the learned regularizers (a weight decay per classifier row, one
for the rest of the network, label smoothing per class) against float64 central differences, for
every exact method (cg, minres, last_layer, unrolled, forward; identity and a truncated Neumann
series are approximations by design): an MLP and a small CNN with BatchNorm. The optimizer's own decay WD is applied as
in the search (the methods' damping, the inner SGD's decay), the learned part beyond it by the
loss's penalty in the training closure."""

import copy

import pytest
import torch
from inner_solve import central_differences, solve_inner, three_class_labels
from torch import nn
from torch.func import functional_call

from autobalance.hypergrad import SGDStep, loss_closure, make_method, model_closure
from autobalance.losses import ParametricLoss
from autobalance.models.heads import Classifier

K, WD = 3, 1e-2
HEAD = ["head.weight", "head.bias"]


def _model(kind: str) -> nn.Module:
    if kind == "mlp":
        return Classifier(nn.Sequential(nn.Linear(4, 5), nn.Tanh()), 5, K)
    body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Tanh(), nn.Flatten())
    return Classifier(body, 2 * 4 * 4, K)


def _inputs(kind: str, n: int) -> torch.Tensor:
    return torch.randn(n, 4, dtype=torch.float64) if kind == "mlp" else torch.randn(n, 1, 4, 4, dtype=torch.float64)


def _loss() -> ParametricLoss:
    """Away from the start, so that every entry's hypergradient is generic."""
    return ParametricLoss(K, learn=("weight_decay", "label_smoothing"), offsets=[0.3, 0.0, -0.3],
                          label_smoothing=[0.05, 0.15, 0.3], decay_reference=WD,
                          weight_decay=[2 * WD, 0.5 * WD, 3 * WD], weight_decay_rest=1.5 * WD).double()


def _problem(kind: str):
    torch.manual_seed(0)
    model = _model(kind).double()
    x, xv = _inputs(kind, 24), _inputs(kind, 30)
    loss = _loss()
    train = loss_closure(model, loss, [(x, three_class_labels(x), None)], applied_decay=WD)

    def val_loss(params, hp):
        return nn.functional.cross_entropy(functional_call(model, params, (xv,)), three_class_labels(xv))

    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    return model, hparams, train, model_closure(model, lambda z, y, g, hp: nn.functional.cross_entropy(z, y),
                                                [(xv, three_class_labels(xv), None)])


def _with_optimizer_decay(train):
    def objective(params, hp):
        return train(params, hp) + WD / 2 * sum((p**2).sum() for p in params.values())
    return objective


@pytest.fixture(scope="module", params=["mlp", pytest.param("cnn_batchnorm", marks=pytest.mark.slow)])
def problem(request):
    model, hparams, train, val = _problem(request.param)
    params = solve_inner(lambda p: _with_optimizer_decay(train)(p, hparams), dict(model.named_parameters()))
    return model, params, hparams, train, val


def test_the_hyperparameters_are_the_three_regularizers():
    assert set(_loss().state_dict()) >= {"raw_label_smoothing", "regularizer.raw_rows", "regularizer.raw_rest"}
    assert {n for n, _ in _loss().named_parameters()} == {"raw_label_smoothing", "regularizer.raw_rows",
                                                          "regularizer.raw_rest"}


@pytest.fixture(scope="module")
def inner_solve_differences(problem):
    """Central differences of the validation loss at the exact inner solution (the reference of
    every implicit method, computed once per problem)."""
    _, params, hparams, train, val = problem
    objective = _with_optimizer_decay(train)
    return central_differences(lambda hp: val(solve_inner(lambda p: objective(p, hp), params), hp), hparams)


@pytest.mark.parametrize("method", ["cg", "minres"])
def test_implicit_hypergradient_matches_finite_differences_of_the_inner_solve(problem, inner_solve_differences,
                                                                              method):
    _, params, hparams, train, val = problem
    result = make_method(method, damping=WD, max_iter=500, tol=1e-13).compute(params, hparams, train, val)
    ref = inner_solve_differences
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-4, atol=1e-8)
        assert result.grads[n].abs().min() > 1e-5, n  # every entry moves the objective


def test_last_layer_hypergradient_uses_the_row_decays_as_the_heads_exact_damping(problem):
    _, params, hparams, train, val = problem
    result = make_method("last_layer", damping=WD).compute(params, hparams, train, val)
    objective = _with_optimizer_decay(train)
    ref = central_differences(lambda hp: val(solve_inner(lambda p: objective(p, hp), params, HEAD), hp), hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-5, atol=1e-9)
    assert float(result.grads["regularizer.raw_rest"].abs()) == 0.0  # the body is fixed in the head's problem
    assert result.grads["regularizer.raw_rows"].abs().min() > 1e-5


def test_unrolled_hypergradient_matches_finite_differences_of_the_unroll(problem):
    _, params, hparams, train, val = problem
    lr, momentum = 0.05, 0.9
    result = make_method("unrolled", steps=3, lr=lr, momentum=momentum, weight_decay=WD).compute(
        params, hparams, train, val)

    def unroll(hp):  # PyTorch's SGD with the optimizer's decay, the learned part in the objective
        theta, buf = {n: p.detach() for n, p in params.items()}, None
        for _ in range(3):
            leaf = {n: p.clone().requires_grad_(True) for n, p in theta.items()}
            grads = dict(zip(leaf, torch.autograd.grad(train(leaf, hp), list(leaf.values())), strict=True))
            d = {n: grads[n] + WD * theta[n] for n in theta}
            buf = d if buf is None else {n: momentum * buf[n] + d[n] for n in theta}
            theta = {n: theta[n] - lr * buf[n] for n in theta}
        return val(theta, hp)

    ref = central_differences(unroll, hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kind", ["mlp", "cnn_batchnorm"])
def test_forward_mode_matches_central_differences_of_a_whole_training_run(kind):
    model0, hparams, _, val = _problem(kind)
    torch.manual_seed(1)
    batches = [(x, three_class_labels(x), None) for x in (_inputs(kind, 12) for _ in range(6))]
    loss = _loss()

    def run(hp, method=None):
        model = copy.deepcopy(model0)
        opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=WD)
        state = None
        for i, batch in enumerate(batches):
            closure = loss_closure(model, loss, [batch], applied_decay=WD, seed=i)
            if method is not None:
                params = {n: p.detach() for n, p in model.named_parameters()}
                state = method.advance(state, params, hp, closure, SGDStep(0.2, 0.9, WD, first=i == 0))
            opt.zero_grad()
            closure(dict(model.named_parameters()), hp).backward()
            opt.step()
        return model, state

    method = make_method("forward")
    model, state = run(hparams, method)
    final = {n: p.detach() for n, p in model.named_parameters()}
    result = method.compute(final, hparams, None, val, state)

    def final_val(hp):
        m, _ = run(hp)
        return val({n: p.detach() for n, p in m.named_parameters()}, hp)

    ref = central_differences(final_val, hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-6, atol=1e-10)
        assert result.grads[n].abs().min() > 1e-7, n


def test_the_power_law_exponents_hypergradient_matches_finite_differences():
    """delta (row decays WD (n_k / n_max)^delta) and e (smoothing 0.5 tanh(e log(n_k / n_min)))."""
    torch.manual_seed(0)
    model = _model("mlp").double()
    x, xv = _inputs("mlp", 24), _inputs("mlp", 30)
    loss = ParametricLoss(K, learn=("weight_decay", "label_smoothing"), counts=[40, 12, 3],
                          parametrization="power_law", label_smoothing=[0.2, 0.1, 0.0], decay_reference=WD,
                          weight_decay=[WD, 2 * WD, 4 * WD]).double()
    train = loss_closure(model, loss, [(x, three_class_labels(x), None)], applied_decay=WD)
    val = model_closure(model, lambda z, y, g, hp: nn.functional.cross_entropy(z, y),
                        [(xv, three_class_labels(xv), None)])
    hparams = {n: p.detach().clone() for n, p in loss.named_parameters()}
    assert hparams["raw_label_smoothing"].shape == hparams["regularizer.raw_rows"].shape == (1, 1)
    objective = _with_optimizer_decay(train)
    params = solve_inner(lambda p: objective(p, hparams), dict(model.named_parameters()))
    result = make_method("cg", damping=WD, max_iter=500, tol=1e-13).compute(params, hparams, train, val)
    ref = central_differences(lambda hp: val(solve_inner(lambda p: objective(p, hp), params), hp), hparams)
    for n in hparams:
        torch.testing.assert_close(result.grads[n], ref[n], rtol=1e-4, atol=1e-8)
